import os

from flask import Flask

from ferrosocket.flask import SocketIO, emit

app = Flask(__name__)
app.config["SECRET_KEY"] = os.getenv("SECRET_KEY")
socketio = SocketIO(app)


@socketio.on("new message")

def handle_messages(data):
	user = data["user"]
	message = data["message"]
	# do something with data


def sampleFunction():
  data = {
    # define some key-value pairs in there
  }
  emit("event_name", data)


# Not in the article, which shows no route and no `run` (examples/flask_seeds/README.md):
# the page its client-side snippets go into, and the usual way to start the app.
from flask import render_template


@app.route("/")
def index():
    return render_template("index.html")


if __name__ == "__main__":
    socketio.run(app)
