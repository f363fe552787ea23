// LedSocket: keeps a Unity scene in sync with a ledsock LED over WebSocketSharp.
//
// Add it to a GameObject, set `url`, and hook `onLevelChanged` to whatever shows the level.
// Wire a UI Slider's On Value Changed to SetLevel(float). See README.md beside this file.
//
// WebSocketSharp raises its events on its own threads. This script only queues what they
// report; Update() handles the queue on the main thread, where Unity objects may be touched.
using System;
using System.Collections.Concurrent;
using UnityEngine;
using UnityEngine.Events;
using WebSocketSharp;

[Serializable]
public class LevelChangedEvent : UnityEvent<int> { }

[Serializable]
public class ColorChangedEvent : UnityEvent<Color> { }

public class LedSocket : MonoBehaviour
{
    [Tooltip("The service's WebSocket, e.g. ws://raspberrypi.local:5000/ws")]
    [SerializeField] private string url = "ws://raspberrypi.local:5000/ws";
    [Tooltip("Which of the service's lights (LIGHTS=desk:21,shelf:20): its name, or empty for the default light")]
    [SerializeField] private string light = "";
    [Tooltip("First reconnect wait in seconds; it doubles after each failure")]
    [SerializeField] private float reconnectMinSeconds = 0.5f;
    [Tooltip("Longest reconnect wait in seconds")]
    [SerializeField] private float reconnectMaxSeconds = 10f;
    [Tooltip("At most one level is sent per this many seconds while a slider is dragged")]
    [SerializeField] private float sendIntervalSeconds = 0.05f;

    [Tooltip("Raised on the main thread with each new level (0..100), from any client")]
    public LevelChangedEvent onLevelChanged = new LevelChangedEvent();
    [Tooltip("Raised on the main thread with each new colour of a colour light (a white as its colour), from any client")]
    public ColorChangedEvent onColorChanged = new ColorChangedEvent();

    public int Level { get; private set; } = -1;     // what the LED shows (0 while off)
    public bool On { get; private set; }
    public int Brightness { get; private set; } = -1; // what On returns to; kept while off
    public string Effect { get; private set; } = "";  // the effect that runs, or "" (none)
    public Color Color { get; private set; } = Color.white; // a colour light's colour at full (a white's too)
    public int Kelvin { get; private set; }           // a colour light's white in kelvin, 0 when it shows a colour
    public bool IsConnected { get; private set; }

    private enum Kind { Opened, Message, Closed, Failed }

    private struct Incoming
    {
        public Kind kind;
        public string text;
        public WebSocket socket;
    }

    private readonly ConcurrentQueue<Incoming> inbox = new ConcurrentQueue<Incoming>();
    private WebSocket socket;
    private int attempt;
    private float nextAttemptAt;
    private float lastSendAt = float.NegativeInfinity;
    private int lastSeq = -1;
    private int wanted = -1;     // level asked for by SetLevel, not yet sent
    private float wantedFade;    // seconds that level fades in
    private bool stopping;

    /// <summary>Ask the service for a level (0..100; 0 is off), fading over <paramref name="fadeSeconds"/>.
    /// Coalesced: rapid calls send only the newest.</summary>
    public void SetLevel(int level, float fadeSeconds = 0f)
    {
        wanted = Mathf.Clamp(level, 0, 100);
        wantedFade = Mathf.Clamp(fadeSeconds, 0f, 3600f);
    }

    /// <summary>Turn the light on at the brightness it keeps.</summary>
    public void TurnOn(float fadeSeconds = 0f) { SendCommand("\"on\":true", fadeSeconds); }

    /// <summary>Turn the light off; its brightness is kept for the next TurnOn.</summary>
    public void TurnOff(float fadeSeconds = 0f) { SendCommand("\"on\":false", fadeSeconds); }

    public void Toggle(float fadeSeconds = 0f) { SendCommand("\"type\":\"toggle\"", fadeSeconds); }

    /// <summary>Start an effect: "breathe", "candle", "blink" or "flash" (with the service's defaults:
    /// a 4 s breathe, a 30% candle, 0.5 s blinks, 3 flashes). Any level, power or step ends it.</summary>
    public void StartEffect(string effect) { SendCommand("\"effect\":\"" + effect + "\"", 0f); }

    /// <summary>Stop the effect: the light goes back to its level.</summary>
    public void StopEffect() { SendCommand("\"effect\":null", 0f); }

    /// <summary>Show <paramref name="color"/> on an RGB light (its brightness stays the light's level, so
    /// pass the colour at full: black is refused), turning it on; the fade passes through colours that
    /// look right. Only red, green and blue are sent, as "#RRGGBB".</summary>
    public void SetColor(Color color, float fadeSeconds = 0f)
    {
        SendCommand("\"color\":\"#" + ColorUtility.ToHtmlStringRGB(color) + "\"", fadeSeconds);
    }

    /// <summary>Show a white of <paramref name="kelvin"/> (2700 warm, 6500 cold) on an RGB or a
    /// tunable-white light, turning it on. Outside the light's range: an out_of_range error.</summary>
    public void SetKelvin(int kelvin, float fadeSeconds = 0f)
    {
        SendCommand("\"kelvin\":" + kelvin, fadeSeconds);
    }

    /// <summary>Move the level by <paramref name="delta"/> (-100..100); at 0 the light is off.</summary>
    public void Step(int delta, float fadeSeconds = 0f)
    {
        SendCommand("\"step\":" + Mathf.Clamp(delta, -100, 100), fadeSeconds);
    }

    /// <summary>Bring the scene <paramref name="scene"/> back: every light of it, in one go, a state each
    /// (they reach onStateChanged; a light of another name has its own state).</summary>
    public void RecallScene(string scene, float fadeSeconds = 0f)
    {
        SendRaw("{\"scene\":" + Quote(scene) + Fade(fadeSeconds) + "}");
    }

    /// <summary>Save how every light looks now as the scene <paramref name="scene"/> (replacing one of
    /// that name). Names: 1 to 32 letters, digits, spaces, '_', '.' or '-'.</summary>
    public void SaveScene(string scene) { SendRaw("{\"type\":\"save_scene\",\"name\":" + Quote(scene) + "}"); }

    public void DeleteScene(string scene) { SendRaw("{\"type\":\"delete_scene\",\"name\":" + Quote(scene) + "}"); }

    private void SendRaw(string message)
    {
        if (socket != null && IsConnected)
            socket.SendAsync(message, null);
    }

    // A JSON string; the server refuses a name it does not take, and says why.
    private static string Quote(string text)
    {
        return "\"" + text.Replace("\\", "\\\\").Replace("\"", "\\\"") + "\"";
    }

    private void SendCommand(string fields, float fadeSeconds)
    {
        if (socket == null || !IsConnected)
            return;
        socket.SendAsync("{" + fields + Fade(fadeSeconds) + Light() + "}", null);
    }

    // The light a command is for: none named, the default light (protocol v1 as it was).
    private string Light()
    {
        return string.IsNullOrEmpty(light) ? "" : ",\"light\":\"" + light + "\"";
    }

    private static string Fade(float seconds)
    {
        return seconds > 0f
            ? ",\"transition\":" + Mathf.Clamp(seconds, 0f, 3600f).ToString("0.###", System.Globalization.CultureInfo.InvariantCulture)
            : "";
    }

    /// <summary>For a UI Slider (0..100) On Value Changed.</summary>
    public void SetLevel(float level)
    {
        SetLevel(Mathf.RoundToInt(level));
    }

    private void OnEnable()
    {
        stopping = false;
        nextAttemptAt = 0f;
    }

    private void Update()
    {
        Incoming item;
        while (inbox.TryDequeue(out item))
            Handle(item);

        if (socket == null && !stopping && Time.realtimeSinceStartup >= nextAttemptAt)
            Connect();

        if (wanted >= 0 && IsConnected && Time.realtimeSinceStartup - lastSendAt >= sendIntervalSeconds)
        {
            socket.SendAsync("{\"level\":" + wanted + Fade(wantedFade) + Light() + "}", null);
            lastSendAt = Time.realtimeSinceStartup;
            wanted = -1;
        }
    }

    private void Connect()
    {
        var ws = new WebSocket(url);
        ws.OnOpen += (sender, e) => inbox.Enqueue(new Incoming { kind = Kind.Opened, socket = ws });
        ws.OnMessage += (sender, e) =>
        {
            if (e.IsText)
                inbox.Enqueue(new Incoming { kind = Kind.Message, text = e.Data, socket = ws });
        };
        ws.OnError += (sender, e) => inbox.Enqueue(new Incoming { kind = Kind.Failed, text = e.Message, socket = ws });
        ws.OnClose += (sender, e) =>
            inbox.Enqueue(new Incoming { kind = Kind.Closed, text = e.Code + " " + e.Reason, socket = ws });
        socket = ws;
        ws.ConnectAsync(); // returns at once; the outcome arrives through the inbox
    }

    private void Handle(Incoming item)
    {
        if (item.socket != socket)
            return; // from a socket we already gave up on
        switch (item.kind)
        {
            case Kind.Opened:
                IsConnected = true;
                attempt = 0;
                lastSeq = -1; // the server sends its state next; seq restarts with the server
                if (!string.IsNullOrEmpty(light)) // another light's states come to those that watch the lights
                    socket.SendAsync("{\"type\":\"watch\",\"lights\":true}", null);
                break;
            case Kind.Message:
                OnServerMessage(item.text);
                break;
            case Kind.Failed:
                Debug.LogWarning("LedSocket: " + item.text);
                break;
            case Kind.Closed:
                IsConnected = false;
                socket = null;
                ScheduleReconnect();
                break;
        }
    }

    private void OnServerMessage(string text)
    {
        LedMessage message = JsonUtility.FromJson<LedMessage>(text);
        // With a light named, states say whose they are: only that light's count. Without, the
        // server sends the default light's alone, as protocol v1 has it.
        if (message.type == "state" && (string.IsNullOrEmpty(light) || message.light == light))
        {
            if (message.seq < lastSeq)
                return; // stale
            lastSeq = message.seq;
            On = message.on;
            Brightness = message.brightness;
            Effect = message.effect ?? "";
            ReadColor(message);
            if (message.level != Level)
            {
                Level = message.level;
                onLevelChanged.Invoke(Level);
            }
        }
        else if (message.type == "error")
        {
            Debug.LogWarning("LedSocket: " + message.code + ": " + message.message);
        }
    }

    // A colour light's state carries its colour or its white; a single-channel light's neither.
    private void ReadColor(LedMessage message)
    {
        Color shown;
        if (!string.IsNullOrEmpty(message.color) && ColorUtility.TryParseHtmlString(message.color, out shown))
            Kelvin = 0;
        else if (message.kelvin > 0)
        {
            shown = Mathf.CorrelatedColorTemperatureToRGB(message.kelvin);
            Kelvin = message.kelvin;
        }
        else
            return;
        if (shown != Color)
        {
            Color = shown;
            onColorChanged.Invoke(Color);
        }
    }

    // Exponential backoff with jitter: each wait is drawn from the upper half of its ceiling.
    private void ScheduleReconnect()
    {
        float ceiling = Mathf.Min(reconnectMaxSeconds, reconnectMinSeconds * Mathf.Pow(2f, attempt));
        attempt++;
        nextAttemptAt = Time.realtimeSinceStartup + UnityEngine.Random.Range(ceiling / 2f, ceiling);
    }

    private void Close()
    {
        stopping = true;
        IsConnected = false;
        WebSocket ws = socket;
        socket = null;
        if (ws != null && (ws.ReadyState == WebSocketState.Open || ws.ReadyState == WebSocketState.Connecting))
            ws.CloseAsync(CloseStatusCode.Away);
    }

    private void OnDisable()
    {
        Close();
    }

    private void OnDestroy()
    {
        Close();
    }

    private void OnApplicationQuit()
    {
        Close();
    }
}
