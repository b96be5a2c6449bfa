//! The `void *userdata` C gives with each callback: carried to whichever thread runs the
//! callback and handed back untouched. The library never dereferences or frees it.

use std::ffi::c_void;

/// A C userdata pointer, shared by every thread that may run its callback. The C contract
/// (ffi/README.md, "Threads": the userdata is shared by every dispatch thread, synchronise
/// what it points to) is what makes sending it between threads sound.
#[derive(Debug, Clone, Copy)]
pub(crate) struct UserData(*mut c_void);

impl UserData {
    pub(crate) fn new(userdata: *mut c_void) -> Self {
        Self(userdata)
    }

    /// The pointer, to pass back to C. A method rather than a public field so that a
    /// closure captures the whole (`Send + Sync`) value, never the bare pointer.
    pub(crate) fn get(self) -> *mut c_void {
        self.0
    }
}

// SAFETY: the pointer is only handed back to C, which promises it may be used from any
// thread (ffi/README.md, "Threads").
unsafe impl Send for UserData {}
// SAFETY: as above; the library never dereferences it.
unsafe impl Sync for UserData {}
