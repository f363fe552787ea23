// Every message the ledsock server sends, as one flat class for JsonUtility (protocol v1).
// Fields missing from a message keep their defaults: a "pong" has only `type`.
using System;

[Serializable]
public class LedMessage
{
    public string type;     // "state", "error" or "pong"
    public int level;       // state: 0..100
    public int seq;         // state: counts changes since the server started; only increases
    public string id;       // the id of your request, echoed in its reply (send string ids)
    public string code;     // error: invalid_json, invalid_message, out_of_range, unknown_type, hardware_error, rate_limited
    public string message;  // error: what was wrong, for people
}
