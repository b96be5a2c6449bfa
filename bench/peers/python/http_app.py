"""The HTTP routes every server of the Flask HTTP benchmarks serves (bench/flask/, RESULTS-flask.md).

Owns: the Flask app `app` (`GET /` a hello-world string, `GET /json` a small dict through
`jsonify`) and `bare`, a WSGI callable that answers the same two paths with fixed bytes and
no framework at all, to show what a server adds per request by itself. Never: starts a
server (gunicorn, granian and ferrosocket's bridge import it).

gunicorn / granian: `http_app:app` or `http_app:bare` with bench/peers/python on the path.
"""
from flask import Flask, jsonify

app = Flask(__name__)


@app.route("/")
def hello():
    return "Hello, World!"


@app.route("/json")
def json_route():
    return jsonify(message="Hello, World!", count=3, ok=True)


_HELLO = b"Hello, World!"
_JSON = b'{"count":3,"message":"Hello, World!","ok":true}\n'


def bare(environ, start_response):
    """The same answers as `app`, without Flask: what the server alone costs."""
    if environ.get("PATH_INFO") == "/json":
        body, kind = _JSON, "application/json"
    else:
        body, kind = _HELLO, "text/html; charset=utf-8"
    start_response("200 OK", [("Content-Type", kind), ("Content-Length", str(len(body)))])
    return [body]
