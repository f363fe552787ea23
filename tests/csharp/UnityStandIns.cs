// Minimal stand-ins for the UnityEngine and WebSocketSharp types LedSocket.cs uses,
// with the same names and signatures, so that mcs can check LedSocket.cs compiles.
// They do nothing: this is a compile check, not a run of the script.
using System;

namespace UnityEngine
{
    public class Object { }
    public class Component : Object { }
    public class Behaviour : Component { }
    public class MonoBehaviour : Behaviour { }

    [AttributeUsage(AttributeTargets.Field)] public sealed class SerializeField : Attribute { }
    [AttributeUsage(AttributeTargets.Field)] public sealed class TooltipAttribute : Attribute { public TooltipAttribute(string tooltip) { } }

    public static class Debug
    {
        public static void Log(object message) { }
        public static void LogWarning(object message) { }
        public static void LogError(object message) { }
    }

    public static class Time { public static float realtimeSinceStartup { get { return 0f; } } }

    public static class Mathf
    {
        public static int Clamp(int value, int min, int max) { return Math.Max(min, Math.Min(max, value)); }
        public static int RoundToInt(float f) { return (int)Math.Round(f); }
        public static float Min(float a, float b) { return Math.Min(a, b); }
        public static float Clamp(float value, float min, float max) { return Math.Max(min, Math.Min(max, value)); }
        public static float Pow(float f, float p) { return (float)Math.Pow(f, p); }
    }

    public static class Random { public static float Range(float min, float max) { return min; } }

    public static class JsonUtility { public static T FromJson<T>(string json) { return default(T); } }
}

namespace UnityEngine.Events
{
    public abstract class UnityEventBase { }
    public class UnityEvent : UnityEventBase { public void Invoke() { } }
    public abstract class UnityEvent<T0> : UnityEventBase { public void Invoke(T0 arg0) { } }
}

namespace WebSocketSharp
{
    public enum WebSocketState : ushort { New = 0, Connecting = 1, Open = 2, Closing = 3, Closed = 4 }
    public enum CloseStatusCode : ushort { Normal = 1000, Away = 1001 }

    public class MessageEventArgs : EventArgs
    {
        public string Data { get { return null; } }
        public bool IsText { get { return true; } }
    }

    public class CloseEventArgs : EventArgs
    {
        public ushort Code { get { return 0; } }
        public string Reason { get { return null; } }
        public bool WasClean { get { return true; } }
    }

    public class ErrorEventArgs : EventArgs
    {
        public string Message { get { return null; } }
        public Exception Exception { get { return null; } }
    }

    public class WebSocket : IDisposable
    {
        public WebSocket(string url, params string[] protocols) { }
        public event EventHandler OnOpen;
        public event EventHandler<MessageEventArgs> OnMessage;
        public event EventHandler<ErrorEventArgs> OnError;
        public event EventHandler<CloseEventArgs> OnClose;
        public WebSocketState ReadyState { get { return WebSocketState.New; } }
        public void ConnectAsync() { OnOpen(this, EventArgs.Empty); OnMessage(this, null); OnError(this, null); OnClose(this, null); }
        public void SendAsync(string data, Action<bool> completed) { }
        public void CloseAsync() { }
        public void CloseAsync(CloseStatusCode code) { }
        void IDisposable.Dispose() { }
    }
}
