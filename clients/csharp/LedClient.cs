// LedClient: read, set or watch the ledsock LED from a terminal or a script.
//
//   mcs -r:System.Runtime.Serialization -out:LedClient.exe LedClient.cs     (Mono; or add to a .NET project)
//   mono LedClient.exe [--url ws://HOST:5000/ws] [--timeout SECONDS] [--fade SECONDS] [--light NAME]
//                      get | set N | on | off | toggle | step N | color #RRGGBB | kelvin K | effect NAME
//                      | scene NAME | save-scene NAME | delete-scene NAME | watch [--count N]
//
// set N shows level N (0 is off); on/off keep the brightness; step N moves by N (-100..100);
// color #ff8800 shows that colour on an RGB light; kelvin 2700 that white on an RGB or a
// tunable-white light (both turn it on at its brightness); effect NAME starts breathe, candle,
// blink or flash (none stops it); --fade fades the change over that many seconds; --light names
// one of the service's lights (without it: the default one). scene NAME brings a scene back (its
// lights' states, one line each; --fade fades them), save-scene NAME saves how every light looks
// as that scene (--light: that light only), delete-scene NAME deletes it.
//
// Prints server messages as they arrive (one JSON line each). Exit status: 0 on success,
// 1 when the server answers with an error, 2 when it cannot connect or gets no answer in time,
// 3 when the server refuses the connection (401 unauthorized: give --url '...?token=TOKEN';
// 403 forbidden; 503 full), with the server's reason.
// Uses only .NET's own System.Net.WebSockets.ClientWebSocket, so it runs on Mono and on .NET.
using System;
using System.IO;
using System.Net;
using System.Net.WebSockets;
using System.Runtime.Serialization;
using System.Runtime.Serialization.Json;
using System.Text;
using System.Threading;
using System.Threading.Tasks;

[DataContract]
public class ServerMessage
{
    [DataMember] public string type;
    [DataMember] public int level;
    [DataMember] public bool on;
    [DataMember] public int brightness;
    [DataMember] public int seq;
    [DataMember] public double transition;
    [DataMember] public string light;
    [DataMember] public string effect;
    [DataMember] public string color;
    [DataMember] public int kelvin;
    [DataMember] public string id;
    [DataMember] public string code;
    [DataMember] public string message;
    [DataMember] public string name;
    [DataMember] public string scene_lights;

    static readonly DataContractJsonSerializer Serializer = new DataContractJsonSerializer(typeof(ServerMessage));

    public static ServerMessage Parse(string json)
    {
        using (var stream = new MemoryStream(Encoding.UTF8.GetBytes(json)))
            return (ServerMessage)Serializer.ReadObject(stream);
    }
}

public static class LedClient
{
    const int Ok = 0, ErrorReply = 1, NoConnection = 2, Refused = 3, Usage = 64;
    const string RequestId = "ledclient";

    public static void Main(string[] args)
    {
        int code;
        try
        {
            code = Run(args).GetAwaiter().GetResult();
        }
        catch (Exception e)
        {
            Console.Error.WriteLine("ledclient: " + e.Message);
            code = NoConnection;
        }
        Environment.Exit(code); // Mono may otherwise hang at exit on the socket's threads
    }

    static void PrintUsage()
    {
        Console.Error.WriteLine("usage: LedClient [--url ws://HOST:5000/ws] [--timeout SECONDS] [--fade SECONDS] "
            + "[--light NAME] get | set N | on | off | toggle | step N | color #RRGGBB | kelvin K | effect NAME "
            + "| scene NAME | save-scene NAME | delete-scene NAME | watch [--count N]");
    }

    static async Task<int> Run(string[] args)
    {
        string url = Environment.GetEnvironmentVariable("LED_URL") ?? "ws://localhost:5000/ws";
        double timeout = 5;
        int count = -1;
        string command = null, value = null, fade = null, light = null;
        for (int i = 0; i < args.Length; i++)
        {
            string arg = args[i];
            if (arg == "--url" && i + 1 < args.Length) url = args[++i];
            else if (arg == "--timeout" && i + 1 < args.Length) timeout = double.Parse(args[++i], System.Globalization.CultureInfo.InvariantCulture);
            else if (arg == "--count" && i + 1 < args.Length) count = int.Parse(args[++i]);
            else if (arg == "--fade" && i + 1 < args.Length) fade = args[++i];
            else if (arg == "--light" && i + 1 < args.Length) light = args[++i];
            else if (command == null) command = arg;
            else if (TakesValue(command) && value == null) value = arg;
            else { PrintUsage(); return Usage; }
        }
        if (command == null || TakesValue(command) != (value != null) || Array.IndexOf(Commands, command) < 0)
        {
            PrintUsage();
            return Usage;
        }

        using (var socket = new ClientWebSocket())
        {
            try
            {
                using (var connecting = new CancellationTokenSource(TimeSpan.FromSeconds(timeout)))
                    await socket.ConnectAsync(new Uri(url), connecting.Token);
            }
            catch (Exception e)
            {
                // A failed handshake says nothing of why (Mono: "Unable to connect"), so ask the
                // same URL over plain HTTP: the service answers why it refuses, as JSON.
                string refusal = Refusal(url, timeout);
                if (refusal != null)
                {
                    Console.Error.WriteLine("ledclient: " + refusal);
                    return Refused;
                }
                Console.Error.WriteLine("ledclient: cannot connect to " + url + ": " + Describe(e));
                return NoConnection;
            }

            int result;
            if (command == "watch")
                result = await Watch(socket, count);
            else
                result = await Request(socket, RequestText(command, value, fade, light), timeout, command == "scene");
            await CloseQuietly(socket);
            return result;
        }
    }

    static readonly string[] Commands =
    {
        "get", "set", "on", "off", "toggle", "step", "color", "kelvin", "effect", "scene", "save-scene", "delete-scene",
        "watch",
    };

    static bool TakesValue(string command)
    {
        return command == "set" || command == "step" || command == "color" || command == "kelvin" || command == "effect"
            || command.EndsWith("scene");
    }

    // The message a command sends (null for get of the default light: the server sends its
    // state on connect).
    static string RequestText(string command, string value, string fade, string light)
    {
        string fields;
        switch (command)
        {
            case "set": fields = "\"level\":" + JsonValue(value); break;
            case "step": fields = "\"step\":" + JsonValue(value); break;
            case "color": fields = "\"color\":" + JsonString(value); break;  // the server checks it: "#rrggbb"
            case "kelvin": fields = "\"kelvin\":" + JsonValue(value); break;
            case "on": fields = "\"on\":true"; break;
            case "off": fields = "\"on\":false"; break;
            case "toggle": fields = "\"type\":\"toggle\""; break;
            case "effect": fields = "\"effect\":" + (value == "none" ? "null" : JsonString(value)); break;
            case "get": if (light == null) return null; fields = "\"type\":\"get\""; break;
            case "scene": fields = "\"scene\":" + JsonString(value); break;
            case "save-scene":
                fields = "\"type\":\"save_scene\",\"name\":" + JsonString(value)
                    + (light != null ? ",\"lights\":" + JsonString(light) : "");
                return "{" + fields + ",\"id\":\"" + RequestId + "\"}";
            case "delete-scene":
                return "{\"type\":\"delete_scene\",\"name\":" + JsonString(value) + ",\"id\":\"" + RequestId + "\"}";
            default: return null;
        }
        if (fade != null) fields += ",\"transition\":" + JsonNumber(fade);
        if (light != null) fields += ",\"light\":" + JsonString(light);
        return "{" + fields + ",\"id\":\"" + RequestId + "\"}";
    }

    // A JSON string, escaped (the server names what is wrong with a bad name).
    static string JsonString(string text)
    {
        var escaped = new StringBuilder("\"");
        foreach (char c in text)
        {
            if (c == '"' || c == '\\') escaped.Append('\\').Append(c);
            else if (c < ' ') escaped.AppendFormat("\\u{0:x4}", (int)c);
            else escaped.Append(c);
        }
        return escaped.Append('"').ToString();
    }

    // Send the request (if any) and wait for the state or error that answers it.
    // A scene's recall is answered with a state per light: a ping sent after it is answered
    // after them all, and ends the wait.
    static async Task<int> Request(ClientWebSocket socket, string request, double timeout, bool severalStates = false)
    {
        using (var answering = new CancellationTokenSource(TimeSpan.FromSeconds(timeout)))
        {
            try
            {
                if (request != null)
                    await SendText(socket, request, answering.Token);
                if (severalStates)
                    await SendText(socket, "{\"type\":\"ping\",\"id\":\"" + RequestId + "-end\"}", answering.Token);
                int answered = 0;
                while (true)
                {
                    string text = await ReceiveText(socket, answering.Token);
                    if (text == null)
                    {
                        Console.Error.WriteLine("ledclient: the server closed the connection");
                        return NoConnection;
                    }
                    ServerMessage message = ServerMessage.Parse(text);
                    if (severalStates && message.id == RequestId && message.type != "error")
                    {
                        Console.WriteLine(text);  // a light's state, or which lights were left out
                        answered++;
                        continue;
                    }
                    if (severalStates && message.id == RequestId + "-end")
                        return answered > 0 ? Ok : ErrorReply;
                    bool answers = message.type == "state" || message.type == "scene" || message.type == "scene_deleted";
                    if (request == null && message.type == "state" || message.id == RequestId && answers)
                    {
                        Console.WriteLine(text);
                        return Ok;
                    }
                    if (message.id == RequestId && message.type == "error")
                    {
                        Console.Error.WriteLine("ledclient: " + message.code + ": " + message.message);
                        return ErrorReply;
                    }
                }
            }
            catch (OperationCanceledException)
            {
                Console.Error.WriteLine("ledclient: no answer within " + timeout + " s");
                return NoConnection;
            }
        }
    }

    // watch: print every message until the server closes or --count messages have arrived.
    static async Task<int> Watch(ClientWebSocket socket, int count)
    {
        for (int seen = 0; count < 0 || seen < count; seen++)
        {
            string text = await ReceiveText(socket, CancellationToken.None);
            if (text == null)
                return socket.CloseStatus == WebSocketCloseStatus.EndpointUnavailable
                    || socket.CloseStatus == WebSocketCloseStatus.NormalClosure ? Ok : NoConnection;
            Console.WriteLine(text);
        }
        return Ok;
    }

    // A level from the command line goes out as a JSON number if it is one, else as a JSON
    // string, so the server (not this client) decides what is valid and says why.
    static string JsonValue(string value)
    {
        int number;
        if (int.TryParse(value, System.Globalization.NumberStyles.AllowLeadingSign, System.Globalization.CultureInfo.InvariantCulture, out number))
            return number.ToString(System.Globalization.CultureInfo.InvariantCulture);
        return JsonString(value);
    }

    // Seconds from the command line go out as a JSON number if they are one, else as a string
    // (which the server refuses with its own message).
    static string JsonNumber(string value)
    {
        double number;
        if (double.TryParse(value, System.Globalization.NumberStyles.Float, System.Globalization.CultureInfo.InvariantCulture, out number)
            && !double.IsNaN(number) && !double.IsInfinity(number))
            return number.ToString("R", System.Globalization.CultureInfo.InvariantCulture);
        return JsonValue(value);
    }

    static Task SendText(ClientWebSocket socket, string text, CancellationToken token)
    {
        byte[] bytes = Encoding.UTF8.GetBytes(text);
        return socket.SendAsync(new ArraySegment<byte>(bytes), WebSocketMessageType.Text, true, token);
    }

    // One whole text message, or null once the server has closed the connection.
    static async Task<string> ReceiveText(ClientWebSocket socket, CancellationToken token)
    {
        var buffer = new byte[4096];
        using (var message = new MemoryStream())
        {
            while (true)
            {
                WebSocketReceiveResult got;
                try
                {
                    got = await socket.ReceiveAsync(new ArraySegment<byte>(buffer), token);
                }
                catch (WebSocketException)
                {
                    return null;
                }
                if (got.MessageType == WebSocketMessageType.Close)
                    return null;
                message.Write(buffer, 0, got.Count);
                if (got.EndOfMessage)
                    return Encoding.UTF8.GetString(message.ToArray());
            }
        }
    }

    static async Task CloseQuietly(ClientWebSocket socket)
    {
        try
        {
            using (var closing = new CancellationTokenSource(TimeSpan.FromSeconds(5)))
            {
                if (socket.State == WebSocketState.Open)
                    await socket.CloseAsync(WebSocketCloseStatus.NormalClosure, "bye", closing.Token);
                else if (socket.State == WebSocketState.CloseReceived)
                    await socket.CloseOutputAsync(WebSocketCloseStatus.NormalClosure, "bye", closing.Token);
            }
        }
        catch (Exception e)
        {
            Console.Error.WriteLine("ledclient: closing: " + Describe(e));
        }
    }

    // "unauthorized: <the server's message>" when the service refuses url with 401, 403 or 503; else null.
    static string Refusal(string url, double timeout)
    {
        try
        {
            var http = new UriBuilder(url);
            http.Scheme = http.Scheme == "wss" ? "https" : "http";
            var request = (HttpWebRequest)WebRequest.Create(http.Uri);
            request.Timeout = (int)(timeout * 1000);
            using (request.GetResponse()) { }
        }
        catch (WebException e)
        {
            var response = e.Response as HttpWebResponse;
            if (response == null) return null;
            int status = (int)response.StatusCode;
            if (status != 401 && status != 403 && status != 503) return null;
            using (var reader = new StreamReader(response.GetResponseStream(), Encoding.UTF8))
            {
                var error = ServerMessage.Parse(reader.ReadToEnd());
                string what = status == 401 ? "unauthorized" : status == 403 ? "forbidden" : "refused (the service is full)";
                string why = error != null && error.message != null ? error.message : response.StatusDescription;
                string hint = status == 401 ? "; give it with --url 'ws://HOST:5000/ws?token=TOKEN'" : "";
                return what + ": " + why + hint;
            }
        }
        catch (Exception)
        {
        }
        return null;
    }

    static string Describe(Exception e)
    {
        while (e.InnerException != null) e = e.InnerException;
        return e.Message;
    }
}
