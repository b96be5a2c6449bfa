//! Rooms and broadcast targeting, behind the [`Adapter`] trait.
//!
//! An adapter answers "which sockets of this namespace does this emit reach?". The
//! in-memory [`LocalAdapter`] is the default; a Redis adapter can implement the same
//! trait to share rooms between processes.
//!
//! Every socket is also in a room named after its own id. That room is virtual: it is
//! not stored, so a socket that never joins a room costs the adapter one set entry. It
//! belongs to its socket alone: the namespace refuses to let another socket join it
//! ([`crate::RoomError::SidRoom`]), and the local adapter resolves a room that names a
//! connected socket to that socket only, whatever else was stored under the name.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, RwLock};

use crate::sid::Sid;

/// A room name.
pub type Room = Arc<str>;

/// Who an emit reaches: the union of `rooms` (the whole namespace when empty), minus
/// every socket in `except` (rooms or socket ids).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BroadcastOptions {
    /// Target rooms; empty means every socket of the namespace.
    pub rooms: Vec<Room>,
    /// Rooms (or socket ids) whose sockets are left out.
    pub except: Vec<Room>,
}

/// Room membership for one namespace.
///
/// Implementations must be cheap to call from any thread and must never call back into
/// the server while holding their own locks.
pub trait Adapter: Send + Sync + std::fmt::Debug + 'static {
    /// A socket connected to the namespace.
    fn add_socket(&self, sid: Sid);
    /// A socket left: forget it and its rooms.
    fn remove_socket(&self, sid: Sid);
    /// Adds `sid` to `rooms`.
    fn join(&self, sid: Sid, rooms: &[Room]);
    /// Removes `sid` from `room`.
    fn leave(&self, sid: Sid, room: &str);
    /// Removes `sid` from every room it joined (it stays in its own id room).
    fn leave_all(&self, sid: Sid);
    /// The rooms `sid` joined, not counting its own id room.
    fn rooms_of(&self, sid: Sid) -> Vec<Room>;
    /// Every socket in `room` (for a socket id: that socket, if connected).
    fn sockets_in(&self, room: &str) -> Vec<Sid>;
    /// Removes every socket from `room`.
    fn close_room(&self, room: &str);
    /// All rooms that have members (socket id rooms excluded).
    fn rooms(&self) -> Vec<Room>;
    /// The sockets an emit with `opts` reaches, each once.
    fn targets(&self, opts: &BroadcastOptions) -> Vec<Sid>;
}

/// The in-memory adapter: rooms live in this process.
#[derive(Debug, Default)]
pub struct LocalAdapter {
    /// One lock for the three maps so membership changes are atomic: a broadcast never
    /// sees a socket in a room but not in `sockets`.
    state: RwLock<LocalState>,
}

#[derive(Debug, Default)]
struct LocalState {
    sockets: HashSet<Sid>,
    rooms: HashMap<Room, HashSet<Sid>>,
    /// Rooms per socket, only for sockets that joined any (idle sockets cost nothing here).
    joined: HashMap<Sid, Vec<Room>>,
}

impl LocalState {
    fn for_each_member(&self, room: &str, mut each: impl FnMut(Sid)) {
        // A connected socket's id names that socket, first: no stored room may stand in
        // for it (see the module docs).
        if let Some(sid) = Sid::parse(room).filter(|sid| self.sockets.contains(sid)) {
            each(sid);
        } else if let Some(members) = self.rooms.get(room) {
            members.iter().copied().for_each(&mut each);
        }
    }

    fn remove_from_room(&mut self, sid: Sid, room: &str) {
        if let Some(members) = self.rooms.get_mut(room) {
            members.remove(&sid);
            if members.is_empty() {
                self.rooms.remove(room);
            }
        }
    }
}

impl LocalAdapter {
    /// An empty adapter.
    pub fn new() -> Self {
        Self::default()
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, LocalState> {
        self.state.read().unwrap_or_else(|p| p.into_inner())
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, LocalState> {
        self.state.write().unwrap_or_else(|p| p.into_inner())
    }
}

impl Adapter for LocalAdapter {
    fn add_socket(&self, sid: Sid) {
        self.write().sockets.insert(sid);
    }

    fn remove_socket(&self, sid: Sid) {
        let mut state = self.write();
        state.sockets.remove(&sid);
        for room in state.joined.remove(&sid).unwrap_or_default() {
            state.remove_from_room(sid, &room);
        }
    }

    fn join(&self, sid: Sid, rooms: &[Room]) {
        let mut state = self.write();
        if !state.sockets.contains(&sid) {
            return;
        }
        for room in rooms {
            // Another socket's id room is never stored (the namespace refuses it before
            // it gets here; an adapter called directly must not be fooled either).
            if Sid::parse(room).is_some_and(|owner| owner != sid && state.sockets.contains(&owner))
            {
                continue;
            }
            if state.rooms.entry(Arc::clone(room)).or_default().insert(sid) {
                state.joined.entry(sid).or_default().push(Arc::clone(room));
            }
        }
    }

    fn leave(&self, sid: Sid, room: &str) {
        let mut state = self.write();
        state.remove_from_room(sid, room);
        if let Some(joined) = state.joined.get_mut(&sid) {
            joined.retain(|r| &**r != room);
            if joined.is_empty() {
                state.joined.remove(&sid);
            }
        }
    }

    fn leave_all(&self, sid: Sid) {
        let mut state = self.write();
        for room in state.joined.remove(&sid).unwrap_or_default() {
            state.remove_from_room(sid, &room);
        }
    }

    fn rooms_of(&self, sid: Sid) -> Vec<Room> {
        self.read().joined.get(&sid).cloned().unwrap_or_default()
    }

    fn sockets_in(&self, room: &str) -> Vec<Sid> {
        let mut out = Vec::new();
        self.read().for_each_member(room, |sid| out.push(sid));
        out
    }

    fn close_room(&self, room: &str) {
        let mut state = self.write();
        if let Some(members) = state.rooms.remove(room) {
            for sid in members {
                if let Some(joined) = state.joined.get_mut(&sid) {
                    joined.retain(|r| &**r != room);
                    if joined.is_empty() {
                        state.joined.remove(&sid);
                    }
                }
            }
        }
    }

    fn rooms(&self) -> Vec<Room> {
        self.read().rooms.keys().cloned().collect()
    }

    fn targets(&self, opts: &BroadcastOptions) -> Vec<Sid> {
        let state = self.read();
        let mut excluded = HashSet::new();
        for room in &opts.except {
            state.for_each_member(room, |sid| {
                excluded.insert(sid);
            });
        }
        let mut out = Vec::new();
        match opts.rooms.as_slice() {
            [] => out.extend(state.sockets.iter().filter(|s| !excluded.contains(*s))),
            [room] => state.for_each_member(room, |sid| {
                if !excluded.contains(&sid) {
                    out.push(sid);
                }
            }),
            rooms => {
                // A socket in several target rooms must get the packet once.
                let mut seen = excluded;
                for room in rooms {
                    state.for_each_member(room, |sid| {
                        if seen.insert(sid) {
                            out.push(sid);
                        }
                    });
                }
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn room(name: &str) -> Room {
        Arc::from(name)
    }

    fn sorted(mut v: Vec<Sid>) -> Vec<Sid> {
        v.sort();
        v
    }

    #[test]
    fn rooms_and_targets() {
        let adapter = LocalAdapter::new();
        let (a, b, c) = (Sid::new(), Sid::new(), Sid::new());
        for s in [a, b, c] {
            adapter.add_socket(s);
        }
        adapter.join(a, &[room("x"), room("y")]);
        adapter.join(b, &[room("y")]);
        assert_eq!(sorted(adapter.sockets_in("y")), sorted(vec![a, b]));
        assert_eq!(adapter.sockets_in(c.as_str()), vec![c]);

        let all = adapter.targets(&BroadcastOptions::default());
        assert_eq!(sorted(all), sorted(vec![a, b, c]));
        let xy = adapter.targets(&BroadcastOptions {
            rooms: vec![room("x"), room("y")],
            except: vec![],
        });
        assert_eq!(
            sorted(xy),
            sorted(vec![a, b]),
            "a is in both rooms but counted once"
        );
        let except_sid = adapter.targets(&BroadcastOptions {
            rooms: vec![room("y")],
            except: vec![room(a.as_str())],
        });
        assert_eq!(except_sid, vec![b]);
        let except_room = adapter.targets(&BroadcastOptions {
            rooms: vec![],
            except: vec![room("y")],
        });
        assert_eq!(except_room, vec![c]);
        let to_sid = adapter.targets(&BroadcastOptions {
            rooms: vec![room(c.as_str()), room("x")],
            except: vec![],
        });
        assert_eq!(sorted(to_sid), sorted(vec![a, c]));

        adapter.leave(a, "x");
        assert_eq!(adapter.rooms_of(a), vec![room("y")]);
        adapter.close_room("y");
        assert!(adapter.rooms_of(a).is_empty());
        assert!(adapter.rooms().is_empty());
        adapter.join(b, &[room("z")]);
        adapter.remove_socket(b);
        assert!(adapter.sockets_in("z").is_empty());
        assert!(adapter.sockets_in(b.as_str()).is_empty());
        adapter.join(b, &[room("z")]);
        assert!(adapter.rooms().is_empty(), "a removed socket cannot join");
    }

    #[test]
    fn a_sid_room_belongs_to_its_socket_alone() {
        let adapter = LocalAdapter::new();
        let (victim, thief, other) = (Sid::new(), Sid::new(), Sid::new());
        for s in [victim, thief, other] {
            adapter.add_socket(s);
        }
        adapter.join(thief, &[room(victim.as_str()), room("lobby")]);
        adapter.join(victim, &[room(victim.as_str())]);
        assert_eq!(adapter.rooms_of(thief), vec![room("lobby")]);
        assert_eq!(adapter.sockets_in(victim.as_str()), vec![victim]);
        let to_victim = BroadcastOptions {
            rooms: vec![room(victim.as_str())],
            except: vec![],
        };
        assert_eq!(adapter.targets(&to_victim), vec![victim]);
        let but_victim = BroadcastOptions {
            rooms: vec![],
            except: vec![room(victim.as_str())],
        };
        assert_eq!(
            sorted(adapter.targets(&but_victim)),
            sorted(vec![thief, other])
        );
    }
}
