"""The REST twin's rules, in process with Flask's test client: what a POST takes (JSON, form
fields, curl's default form type), and that every slip is one JSON error object saying what is
accepted. The same error objects on the WebSocket and across doors: test_websocket.py."""

FORM = "application/x-www-form-urlencoded"


def post(client, path, body, content_type=FORM):
    response = client.post(path, data=body, content_type=content_type)
    return response.status_code, response.get_json()


def state_of(client) -> dict:
    state = client.get("/led").get_json()
    state.pop("shown")
    return state


def test_rest_takes_json_sent_with_curls_default_form_type(client):
    assert post(client, "/led", '{"level": 5}') == (200, {"level": 5, "on": True, "brightness": 5, "seq": 1})
    assert post(client, "/led", "level=6&level=7") == (200, {"level": 7, "on": True, "brightness": 7, "seq": 2})
    status, reply = post(client, "/led", "lvl=8")
    assert (status, reply["code"]) == (400, "invalid_message")
    assert (
        reply["message"]
        == "POST /led takes the form fields level, on, step, transition, light, effect, color, kelvin, period, "
        "depth, on_time, off_time, count (or a JSON body); got 'lvl'"
    )
    assert state_of(client) == {"level": 7, "on": True, "brightness": 7, "seq": 2}


def test_rest_errors_say_what_is_accepted_and_are_always_json(client):
    """A form user's slips, and paths or methods the service has not: one JSON error each."""
    for path, body, content_type, fragment in (
        ("/led", "", FORM, "POST /led needs a body: form fields level, on, step, transition"),
        ("/led?level=5", "", FORM, "the URL's ?level is not read: send it as the body"),
        (
            "/led",
            b'--b\r\nContent-Disposition: form-data; name="levle"\r\n\r\n8\r\n--b--\r\n',
            "multipart/form-data; boundary=b",
            "got 'levle'",
        ),
    ):
        status, reply = post(client, path, body, content_type)
        assert (status, reply["code"]) == (400, "invalid_message") and fragment in reply["message"], reply
    for method, path, status, code in (
        ("PUT", "/led", 405, "method_not_allowed"),
        ("DELETE", "/led", 405, "method_not_allowed"),
        ("GET", "/nowhere", 404, "not_found"),
    ):
        response = client.open(path, method=method)
        assert response.status_code == status and response.headers["Content-Type"] == "application/json"
        assert response.get_json()["code"] == code
    assert state_of(client)["seq"] == 0
