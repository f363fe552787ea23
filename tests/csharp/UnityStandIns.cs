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
        public static Color CorrelatedColorTemperatureToRGB(float kelvin) { return Color.white; }
    }

    public static class Random { public static float Range(float min, float max) { return min; } }

    public struct Color
    {
        public float r, g, b, a;
        public Color(float r, float g, float b) { this.r = r; this.g = g; this.b = b; this.a = 1f; }
        public Color(float r, float g, float b, float a) { this.r = r; this.g = g; this.b = b; this.a = a; }
        public static Color white { get { return new Color(1f, 1f, 1f, 1f); } }
        public static bool operator ==(Color lhs, Color rhs) { return lhs.r == rhs.r && lhs.g == rhs.g && lhs.b == rhs.b && lhs.a == rhs.a; }
        public static bool operator !=(Color lhs, Color rhs) { return !(lhs == rhs); }
        public override bool Equals(object other) { return other is Color && this == (Color)other; }
        public override int GetHashCode() { return r.GetHashCode() ^ g.GetHashCode() ^ b.GetHashCode(); }
    }

    public static class ColorUtility
    {
        public static string ToHtmlStringRGB(Color color) { return ""; }
        public static bool TryParseHtmlString(string htmlString, out Color color) { color = Color.white; return false; }
    }

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
