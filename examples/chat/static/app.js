// ferrosocket chat — the page's logic. No framework; every piece of user text is
// rendered with textContent, never innerHTML.
//
// Protocol (the same for every server of this example):
//   join    {username, room} -> ack {ok, room, members} | {ok:false, error}
//   message {text}           -> ack {ok} | {ok:false, error}; room gets `message`
//   leave   {}               -> ack {ok}
//   server -> client: `message` {room, username, text, ts}, `status` {room, text}
(function () {
  'use strict';

  var ACK_TIMEOUT_MS = 8000;

  var $ = function (id) { return document.getElementById(id); };
  var el = {
    conn: $('conn'),
    connText: document.querySelector('#conn .conn-text'),
    error: $('error'),
    joinView: $('join-view'),
    joinForm: $('join-form'),
    username: $('username'),
    room: $('room'),
    join: $('join'),
    chatView: $('chat-view'),
    roomName: $('room-name'),
    me: $('me'),
    leave: $('leave'),
    members: $('members'),
    memberCount: $('member-count'),
    messages: $('messages'),
    sendForm: $('send-form'),
    text: $('text'),
    send: $('send'),
  };

  // ---- state -------------------------------------------------------------
  var state = {
    joined: null,          // {username, room} once the server accepted the join
    pending: null,         // {username, room} while a join is in flight
    selfJoinEcho: false,   // the room's "<me> joined" status is still to come
    members: new Map(),    // username -> how many sockets use that name in the room
    lastDay: null,         // day of the last rendered message, for day separators
  };

  // ---- small helpers -----------------------------------------------------
  function showError(text) {
    el.error.textContent = text || '';
    el.error.classList.toggle('visible', Boolean(text));
  }

  function setConn(stateName, label) {
    el.conn.dataset.state = stateName;
    el.connText.textContent = label;
  }

  function node(tag, className, text) {
    var n = document.createElement(tag);
    if (className) n.className = className;
    if (text !== undefined && text !== null) n.textContent = String(text);
    return n;
  }

  // A stable, pleasant hue per name, so people are easy to tell apart.
  function hueOf(name) {
    var h = 0;
    for (var i = 0; i < name.length; i++) h = (h * 31 + name.charCodeAt(i)) >>> 0;
    return h % 360;
  }

  function avatar(name) {
    var a = node('span', 'avatar', Array.from(name.trim() || '?')[0].toUpperCase());
    a.setAttribute('aria-hidden', 'true');
    a.style.setProperty('--hue', String(hueOf(name)));
    return a;
  }

  function errorText(res, fallback) {
    if (res && typeof res.error === 'string' && res.error) return res.error;
    return fallback;
  }

  function nearBottom() {
    var m = el.messages;
    return m.scrollHeight - m.scrollTop - m.clientHeight < 80;
  }

  function scrollToEnd() {
    el.messages.scrollTop = el.messages.scrollHeight;
  }

  // ---- members -----------------------------------------------------------
  function setMembers(list) {
    state.members = new Map();
    (Array.isArray(list) ? list : []).forEach(function (name) {
      if (typeof name === 'string') addMember(name, true);
    });
    renderMembers();
  }

  function addMember(name, quiet) {
    state.members.set(name, (state.members.get(name) || 0) + 1);
    if (!quiet) renderMembers();
  }

  function removeMember(name) {
    var n = state.members.get(name) || 0;
    if (n <= 1) state.members.delete(name); else state.members.set(name, n - 1);
    renderMembers();
  }

  function renderMembers() {
    var me = state.joined ? state.joined.username : (state.pending && state.pending.username);
    var names = Array.from(state.members.keys()).sort(function (a, b) {
      if (a === me) return -1;
      if (b === me) return 1;
      return a.localeCompare(b, undefined, { sensitivity: 'base' });
    });
    el.members.replaceChildren();
    names.forEach(function (name) {
      var li = node('li', 'member');
      li.dataset.username = name;
      li.appendChild(avatar(name));
      li.appendChild(node('span', 'member-name', name));
      if (name === me) {
        li.classList.add('self');
        li.appendChild(node('span', 'you', '(you)'));
      }
      el.members.appendChild(li);
    });
    var total = 0;
    state.members.forEach(function (n) { total += n; });
    el.memberCount.textContent = String(total);
  }

  // ---- messages ----------------------------------------------------------
  function dayKey(d) { return d.getFullYear() + '-' + d.getMonth() + '-' + d.getDate(); }

  function maybeDaySeparator(d) {
    var key = dayKey(d);
    if (state.lastDay === key) return;
    if (state.lastDay !== null) {
      var sep = node('li', 'day', d.toLocaleDateString(undefined, { weekday: 'long', month: 'long', day: 'numeric' }));
      sep.setAttribute('role', 'separator');
      el.messages.appendChild(sep);
    }
    state.lastDay = key;
  }

  function addMessage(msg) {
    var stick = nearBottom();
    var username = typeof msg.username === 'string' ? msg.username : '?';
    var ts = typeof msg.ts === 'number' ? msg.ts : Date.now();
    var when = new Date(ts);
    maybeDaySeparator(when);

    var li = node('li', 'msg');
    li.dataset.username = username;
    li.style.setProperty('--hue', String(hueOf(username)));
    var own = state.joined && username === state.joined.username;
    if (own) li.classList.add('own');

    var meta = node('div', 'meta');
    meta.appendChild(node('span', 'user', username));
    var time = node('time', 'ts', when.toLocaleTimeString(undefined, { hour: '2-digit', minute: '2-digit' }));
    time.dateTime = when.toISOString();
    time.title = when.toLocaleString();
    meta.appendChild(time);

    // Group with the previous message when it is the same person, shortly before.
    var prev = el.messages.lastElementChild;
    if (prev && prev.classList.contains('msg') && prev.dataset.username === username &&
        ts - Number(prev.dataset.ts) < 5 * 60 * 1000) {
      li.classList.add('cont');
    }
    li.dataset.ts = String(ts);

    var row = node('div', 'row');
    if (!own) row.appendChild(avatar(username));
    var body = node('div', 'bubble');
    body.appendChild(meta);
    body.appendChild(node('p', 'text', typeof msg.text === 'string' ? msg.text : String(msg.text)));
    row.appendChild(body);
    li.appendChild(row);

    el.messages.appendChild(li);
    if (stick || own) scrollToEnd();
  }

  function addStatus(text) {
    var stick = nearBottom();
    el.messages.appendChild(node('li', 'status', text));
    if (stick) scrollToEnd();
  }

  // "<username> joined" / "<username> left" keep the member list current.
  function applyStatus(text) {
    var me = state.joined ? state.joined.username : (state.pending && state.pending.username);
    var joined = / joined$/.exec(text);
    var left = / left$/.exec(text);
    if (joined) {
      var who = text.slice(0, joined.index);
      // Our own join is already in the ack's member list.
      if (who === me && state.selfJoinEcho) { state.selfJoinEcho = false; return; }
      addMember(who);
    } else if (left) {
      removeMember(text.slice(0, left.index));
    }
  }

  // ---- views -------------------------------------------------------------
  function showChat() {
    el.joinView.hidden = true;
    el.chatView.hidden = false;
    el.roomName.textContent = state.joined.room;
    el.me.textContent = state.joined.username;
    document.title = state.joined.room + ' · ferrosocket chat';
    el.text.focus();
  }

  function showJoin() {
    state.joined = null;
    state.pending = null;
    state.members = new Map();
    state.lastDay = null;
    el.messages.replaceChildren();
    el.members.replaceChildren();
    el.memberCount.textContent = '0';
    el.chatView.hidden = true;
    el.joinView.hidden = false;
    document.title = 'ferrosocket chat';
    (el.username.value ? el.room : el.username).focus();
  }

  function setBusy(button, busy) {
    button.disabled = busy;
    button.setAttribute('aria-busy', busy ? 'true' : 'false');
  }

  // ---- socket ------------------------------------------------------------
  if (typeof window.io !== 'function') {
    setConn('disconnected', 'disconnected');
    showError('The socket.io client did not load (/vendor/socket.io.min.js). Run `make chat-assets`.');
    el.join.disabled = true;
    return;
  }

  var server = new URLSearchParams(window.location.search).get('server');
  var socket = server ? window.io(server) : window.io();

  function emitWithAck(event, payload, done) {
    socket.timeout(ACK_TIMEOUT_MS).emit(event, payload, function (err, res) {
      if (err) done(null, 'the server did not answer in time');
      else done(res, null);
    });
  }

  function doJoin(username, room, isRejoin) {
    state.pending = { username: username, room: room };
    state.selfJoinEcho = true;
    setBusy(el.join, true);
    emitWithAck('join', { username: username, room: room }, function (res, timeoutErr) {
      setBusy(el.join, false);
      state.pending = null;
      if (!res || res.ok !== true) {
        state.selfJoinEcho = false;
        showError(timeoutErr || errorText(res, 'could not join the room'));
        if (isRejoin) showJoin();
        return;
      }
      showError('');
      state.joined = { username: username, room: typeof res.room === 'string' ? res.room : room };
      setMembers(res.members);
      if (isRejoin) addStatus('reconnected');
      else showChat();
    });
  }

  var everConnected = false;

  socket.on('connect', function () {
    setConn('connected', 'connected');
    if (!everConnected && /^could not connect/.test(el.error.textContent)) showError('');
    everConnected = true;
    // A new connection is a new session on the server: take our seat again.
    if (state.joined) doJoin(state.joined.username, state.joined.room, true);
  });

  socket.on('disconnect', function (reason) {
    if (socket.active) {
      setConn('reconnecting', 'reconnecting…');
    } else {
      setConn('disconnected', 'disconnected');
      if (reason === 'io server disconnect') showError('the server closed the connection');
    }
    if (state.joined) addStatus('connection lost');
  });

  socket.on('connect_error', function (err) {
    if (socket.active) setConn('reconnecting', 'reconnecting…');
    else setConn('disconnected', 'disconnected');
    // Tell why the very first connection fails (wrong ?server=, CORS, server down…).
    if (!everConnected) {
      showError('could not connect to ' + (server || window.location.origin) +
        (err && err.message ? ' (' + err.message + ')' : ''));
    }
  });

  socket.io.on('reconnect_attempt', function () { setConn('reconnecting', 'reconnecting…'); });
  socket.io.on('reconnect_failed', function () { setConn('disconnected', 'disconnected'); });

  function forThisRoom(payload) {
    var current = state.joined || state.pending;
    return payload && current && (payload.room === undefined || payload.room === current.room);
  }

  socket.on('message', function (msg) {
    if (forThisRoom(msg)) addMessage(msg);
  });

  socket.on('status', function (st) {
    if (!forThisRoom(st) || typeof st.text !== 'string') return;
    applyStatus(st.text);
    addStatus(st.text);
  });

  // ---- UI events ---------------------------------------------------------
  el.joinForm.addEventListener('submit', function (ev) {
    ev.preventDefault();
    if (el.join.disabled) return;
    doJoin(el.username.value, el.room.value, false);
  });

  el.sendForm.addEventListener('submit', function (ev) {
    ev.preventDefault();
    if (!state.joined || el.send.disabled) return;
    if (!socket.connected) {
      showError('not connected: the message was not sent');
      return;
    }
    var text = el.text.value;
    setBusy(el.send, true);
    emitWithAck('message', { text: text }, function (res, timeoutErr) {
      setBusy(el.send, false);
      if (res && res.ok === true) {
        showError('');
        if (el.text.value === text) el.text.value = '';
        autoGrow();
      } else {
        showError(timeoutErr || errorText(res, 'the message was not sent'));
      }
      el.text.focus();
    });
  });

  // Enter sends, Shift+Enter adds a line (IME composition is left alone).
  el.text.addEventListener('keydown', function (ev) {
    if (ev.key === 'Enter' && !ev.shiftKey && !ev.isComposing) {
      ev.preventDefault();
      el.sendForm.requestSubmit();
    }
  });

  function autoGrow() {
    el.text.style.height = 'auto';
    el.text.style.height = Math.min(el.text.scrollHeight, 160) + 'px';
  }
  el.text.addEventListener('input', autoGrow);

  el.leave.addEventListener('click', function () {
    if (!state.joined) return;
    setBusy(el.leave, true);
    emitWithAck('leave', {}, function (res, timeoutErr) {
      setBusy(el.leave, false);
      if (res && res.ok === true) {
        showError('');
        showJoin();
      } else {
        showError(timeoutErr || errorText(res, 'could not leave the room'));
      }
    });
  });

  // Deep links: ?room=lobby pre-fills the room.
  var roomParam = new URLSearchParams(window.location.search).get('room');
  if (roomParam) el.room.value = roomParam;
  el.username.focus();
})();
