//! The room table of one namespace on this server: which local sockets are in which
//! rooms, and which local sockets a [`BroadcastOptions`] selects. Plain data under one
//! lock; never sends anything (the namespace does, after the lock is released).
//!
//! Membership changes report the rooms that got their first member or lost their last,
//! so a fleet adapter can follow them (a Redis room channel, say).

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, RwLock};

use super::{BroadcastOptions, Room};
use crate::sid::Sid;

/// The room table of one namespace.
#[derive(Debug, Default)]
pub(crate) struct Rooms {
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

    /// Takes `sid` out of `room`; true when that emptied the room.
    fn remove_from_room(&mut self, sid: Sid, room: &str) -> bool {
        if let Some(members) = self.rooms.get_mut(room) {
            members.remove(&sid);
            if members.is_empty() {
                self.rooms.remove(room);
                return true;
            }
        }
        false
    }

    /// Forgets that `sid` joined `room` (the room table itself is not touched).
    fn unrecord(&mut self, sid: Sid, room: &str) {
        if let Some(joined) = self.joined.get_mut(&sid) {
            joined.retain(|r| &**r != room);
            if joined.is_empty() {
                self.joined.remove(&sid);
            }
        }
    }
}

impl Rooms {
    /// An empty table.
    pub(crate) fn new() -> Self {
        Self::default()
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, LocalState> {
        self.state.read().unwrap_or_else(|p| p.into_inner())
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, LocalState> {
        self.state.write().unwrap_or_else(|p| p.into_inner())
    }
}

impl Rooms {
    pub(crate) fn add_socket(&self, sid: Sid) {
        self.write().sockets.insert(sid);
    }

    /// Forgets `sid` and its rooms; `emptied` is told (under the lock, so notices about
    /// one room arrive in the order of the changes) of each room it left empty.
    pub(crate) fn remove_socket(&self, sid: Sid, mut emptied: impl FnMut(&Room)) {
        let mut state = self.write();
        state.sockets.remove(&sid);
        for room in state.joined.remove(&sid).unwrap_or_default() {
            if state.remove_from_room(sid, &room) {
                emptied(&room);
            }
        }
    }

    /// Adds `sid` to `rooms`; `joined` is told (under the lock) of each room it was not
    /// in yet, and whether it is that room's first member.
    pub(crate) fn join(&self, sid: Sid, rooms: &[Room], mut joined: impl FnMut(&Room, bool)) {
        let mut state = self.write();
        if !state.sockets.contains(&sid) {
            return;
        }
        for room in rooms {
            // Another socket's id room is never stored (the namespace refuses it before
            // it gets here; a remote join must not be fooled either).
            if Sid::parse(room).is_some_and(|owner| owner != sid && state.sockets.contains(&owner))
            {
                continue;
            }
            let members = state.rooms.entry(Arc::clone(room)).or_default();
            let first = members.is_empty();
            if members.insert(sid) {
                joined(room, first);
                state.joined.entry(sid).or_default().push(Arc::clone(room));
            }
        }
    }

    /// Removes `sid` from `room`; `emptied` is told (under the lock) when that emptied it.
    /// Returns whether `sid` was in it.
    pub(crate) fn leave(&self, sid: Sid, room: &str, emptied: impl FnOnce()) -> bool {
        let mut state = self.write();
        let was_in = state
            .joined
            .get(&sid)
            .is_some_and(|joined| joined.iter().any(|r| &**r == room));
        if state.remove_from_room(sid, room) {
            emptied();
        }
        state.unrecord(sid, room);
        was_in
    }

    /// Removes `sid` from every room it joined (it stays in its own id room);
    /// `emptied` is told (under the lock) of each room it left empty. Returns the rooms
    /// it left.
    pub(crate) fn leave_all(&self, sid: Sid, mut emptied: impl FnMut(&Room)) -> Vec<Room> {
        let mut state = self.write();
        let left = state.joined.remove(&sid).unwrap_or_default();
        for room in &left {
            if state.remove_from_room(sid, room) {
                emptied(room);
            }
        }
        left
    }

    /// Whether `sid` is a socket of this table.
    pub(crate) fn contains(&self, sid: Sid) -> bool {
        self.read().sockets.contains(&sid)
    }

    /// The rooms `sid` joined, not counting its own id room.
    pub(crate) fn rooms_of(&self, sid: Sid) -> Vec<Room> {
        self.read().joined.get(&sid).cloned().unwrap_or_default()
    }

    /// Every socket in `room` (for a socket id: that socket, if connected).
    #[cfg(test)]
    pub(crate) fn sockets_in(&self, room: &str) -> Vec<Sid> {
        let mut out = Vec::new();
        self.read().for_each_member(room, |sid| out.push(sid));
        out
    }

    /// Removes every socket from `room`; true when it had members.
    #[cfg(test)]
    pub(crate) fn close_room(&self, room: &str) -> bool {
        let mut state = self.write();
        match state.rooms.remove(room) {
            Some(members) => {
                for sid in members {
                    state.unrecord(sid, room);
                }
                true
            }
            None => false,
        }
    }

    /// All rooms that have members (socket id rooms excluded).
    pub(crate) fn rooms(&self) -> Vec<Room> {
        self.read().rooms.keys().cloned().collect()
    }

    /// The sockets an emit with `opts` reaches, each once.
    pub(crate) fn targets(&self, opts: &BroadcastOptions) -> Vec<Sid> {
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
        let adapter = Rooms::new();
        let (a, b, c) = (Sid::new(), Sid::new(), Sid::new());
        for s in [a, b, c] {
            adapter.add_socket(s);
        }
        adapter.join(a, &[room("x"), room("y")], |_, _| {});
        adapter.join(b, &[room("y")], |_, _| {});
        assert_eq!(sorted(adapter.sockets_in("y")), sorted(vec![a, b]));
        assert_eq!(adapter.sockets_in(c.as_str()), vec![c]);

        let all = adapter.targets(&BroadcastOptions::default());
        assert_eq!(sorted(all), sorted(vec![a, b, c]));
        let xy = adapter.targets(&BroadcastOptions {
            rooms: vec![room("x"), room("y")],
            except: vec![],
            ..Default::default()
        });
        assert_eq!(
            sorted(xy),
            sorted(vec![a, b]),
            "a is in both rooms but counted once"
        );
        let except_sid = adapter.targets(&BroadcastOptions {
            rooms: vec![room("y")],
            except: vec![room(a.as_str())],
            ..Default::default()
        });
        assert_eq!(except_sid, vec![b]);
        let except_room = adapter.targets(&BroadcastOptions {
            rooms: vec![],
            except: vec![room("y")],
            ..Default::default()
        });
        assert_eq!(except_room, vec![c]);
        let to_sid = adapter.targets(&BroadcastOptions {
            rooms: vec![room(c.as_str()), room("x")],
            except: vec![],
            ..Default::default()
        });
        assert_eq!(sorted(to_sid), sorted(vec![a, c]));

        let _ = adapter.leave(a, "x", || {});
        assert_eq!(adapter.rooms_of(a), vec![room("y")]);
        assert!(adapter.close_room("y"));
        assert!(adapter.rooms_of(a).is_empty());
        assert!(adapter.rooms().is_empty());
        adapter.join(b, &[room("z")], |_, _| {});
        adapter.remove_socket(b, |_| {});
        assert!(adapter.sockets_in("z").is_empty());
        assert!(adapter.sockets_in(b.as_str()).is_empty());
        adapter.join(b, &[room("z")], |_, _| {});
        assert!(adapter.rooms().is_empty(), "a removed socket cannot join");
    }

    #[test]
    fn a_sid_room_belongs_to_its_socket_alone() {
        let adapter = Rooms::new();
        let (victim, thief, other) = (Sid::new(), Sid::new(), Sid::new());
        for s in [victim, thief, other] {
            adapter.add_socket(s);
        }
        adapter.join(thief, &[room(victim.as_str()), room("lobby")], |_, _| {});
        adapter.join(victim, &[room(victim.as_str())], |_, _| {});
        assert_eq!(adapter.rooms_of(thief), vec![room("lobby")]);
        assert_eq!(adapter.sockets_in(victim.as_str()), vec![victim]);
        let to_victim = BroadcastOptions {
            rooms: vec![room(victim.as_str())],
            except: vec![],
            ..Default::default()
        };
        assert_eq!(adapter.targets(&to_victim), vec![victim]);
        let but_victim = BroadcastOptions {
            rooms: vec![],
            except: vec![room(victim.as_str())],
            ..Default::default()
        };
        assert_eq!(
            sorted(adapter.targets(&but_victim)),
            sorted(vec![thief, other])
        );
    }
}
