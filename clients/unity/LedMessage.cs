// Every message the ledsock server sends, as one flat class for JsonUtility (protocol v1).
// Fields missing from a message keep their defaults: a "pong" has only `type`.
using System;

[Serializable]
public class LedMessage
{
    public string type;     // "state", "error", "pong", "schedule", "schedule_deleted", "scene", "scene_deleted" or "watching"
    public string light;    // state, schedule: whose it is, once you name lights (empty: the default light)
    public int level;       // state: what the LED shows once any fade is over, 0..100 (0 while off)
    public bool on;         // state: whether the light is on
    public int brightness;  // state: 1..100, what "on" shows; kept while off, so an On returns to it
    public int seq;         // state: counts changes since the server started; only increases
    public float transition; // state: seconds the fade to this level takes (0: no fade; absent when 0)
    public long sleep_at;    // state: Unix seconds the sleep timer turns the light off (0: no timer)
    public float sleep_in;   // state: seconds from this message until then
    public string effect;   // state: the effect that runs ("breathe", "candle", "blink", "flash"), or empty
    public string color;    // state: an RGB light's colour, "#rrggbb" (empty: a single channel, or a white: see kelvin)
    public int kelvin;      // state: a colour light's white in kelvin (0: a single channel, or a colour)
    public float period;    // schedule: a breathe's seconds from top to top
    public int depth;       // schedule: a candle's dip, percent of the brightness
    public float on_time;   // schedule: a blink's or flash's seconds on...
    public float off_time;  // ...and off
    public int count;       // schedule: a flash's blinks
    public string name;     // schedule, schedule_deleted, scene, scene_deleted: the schedule's or the scene's name
    public string scene_lights; // scene: its lights, "desk,strip"
    public string left_out; // scene, after a recall: the lights of it this service no longer has, "shelf" (else empty)
    public string at;       // schedule: "06:45" (local time), or empty
    public string cron;     // schedule: a crontab line, or empty
    public string sun;      // schedule: "sunrise" or "sunset", or empty
    public int offset;      // schedule: minutes after the sun event
    public string days;     // schedule: "daily" or "mon,tue,..."
    public int step;        // schedule: its step command, when it has one
    public long next_at;    // schedule: Unix seconds it fires next (0: never)
    public bool schedules;  // watching: whether you now get the schedules' news (send {"type":"watch","schedules":true})
    public bool lights;     // watching: whether you now get every light's states (send {"type":"watch","lights":true})
    public bool scenes;     // watching: whether you now get the scenes' news (send {"type":"watch","scenes":true})
    public string id;       // the id of your request, echoed in its reply (send string ids)
    public string code;     // error: invalid_json, invalid_message, out_of_range, not_supported, unknown_type, hardware_error, rate_limited
    public string message;  // error: what was wrong, for people
}
