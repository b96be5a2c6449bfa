from flask import Flask, render_template
from ferrosocket.flask import SocketIO, emit

app = Flask(__name__)
socketio = SocketIO(app)

@app.route('/')
def index():
    return render_template('index.html')

@socketio.on('message')
def handle_message(message):
    print('Received message: ', message)
    emit('response', 'Message received!')

if __name__ == '__main__':
    socketio.run(app)
