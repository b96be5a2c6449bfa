# The article's listing is not in the seed (its code blocks were lost; only the prose
# explaining them is left): this is the app that prose describes, handler by handler
# (examples/flask_seeds/README.md).
from flask import Flask, render_template
from ferrosocket.flask import SocketIO, send, emit

app = Flask(__name__)
app.config['SECRET_KEY'] = 'secret!'
socketio = SocketIO(app)

@app.route('/')
def index():
    return render_template('index.html')

@socketio.on('connect')
def handle_connect():
    print('Client connected')
    send('Welcome to the chat!')

@socketio.on('message')
def handle_message(message):
    print('Received message: ' + message)
    send(message, broadcast=True)

@socketio.on('disconnect')
def handle_disconnect():
    print('Client disconnected')

if __name__ == '__main__':
    socketio.run(app, debug=True)
