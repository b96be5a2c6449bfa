//! Python values ⇄ Socket.IO payloads, done in Rust while the GIL is held (no `json`
//! module round-trip, no intermediate `serde_json::Value`).
//!
//! Owns the Python side of the wire format: dict key order is kept both ways (as
//! python-socketio keeps it), integers of any size round-trip exactly, and every value
//! that cannot be JSON is an exception for the one emit or ack it belongs to. It never
//! relaxes the core's JSON checks: what it writes still goes through
//! [`Payload::from_json`].
//!
//! Outbound: dict/list/tuple/str/int/float/bool/None/bytes/bytearray are written as
//! JSON text; each `bytes` becomes a `{"_placeholder":true,"num":i}` and attachment `i`.
//! Anything else is a `TypeError` naming the type. Inbound: the (already validated) JSON
//! text is read in one pass, dicts built in the order of the text, with `bytes` in place
//! of each placeholder.

use std::borrow::Cow;
use std::fmt::Write as _;

use bytes::Bytes;
use ferrosocket::protocol::socket::push_json_string;
use ferrosocket::Payload;
use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{
    PyBool, PyByteArray, PyBytes, PyDict, PyFloat, PyInt, PyList, PyNone, PyString, PyTuple,
};
use serde_json::value::RawValue;

/// Deeper nesting is refused: it also stops a self-referencing list from recursing forever.
const MAX_DEPTH: usize = 256;

/// The longest integer literal (sign included) accepted from a client: python-socketio's
/// limit (engineio's `json.loads` refuses longer ones with "Integer is too large").
const MAX_INT_CHARS: usize = 100;

/// Event arguments from a Python `data` value: `None` is no argument, a tuple is several
/// arguments, anything else is one.
pub(crate) fn data_to_payload(data: &Bound<'_, PyAny>) -> PyResult<Payload> {
    if data.is_none() {
        return Ok(Payload::empty());
    }
    if let Ok(tuple) = data.cast::<PyTuple>() {
        return values_to_payload(tuple.iter());
    }
    values_to_payload(std::iter::once(data.clone()))
}

/// Acknowledgement arguments from a handler's return value: `None` is no argument, a
/// tuple several, anything else one (python-socketio's rule).
pub(crate) fn return_to_payload(value: &Bound<'_, PyAny>) -> PyResult<Payload> {
    data_to_payload(value)
}

/// A JSON value (for a connect refusal's `data`), keys in the dict's order; bytes are
/// refused there.
pub(crate) fn to_json_value(value: &Bound<'_, PyAny>) -> PyResult<Box<RawValue>> {
    let mut writer = Writer::default();
    writer.value(value, 0)?;
    if !writer.binary.is_empty() {
        return Err(PyTypeError::new_err("bytes are not allowed here"));
    }
    let text = writer.into_text();
    // Checked like any payload (no NaN, no number out of range).
    Payload::from_json(format!("[{text}]"), Vec::new())
        .map_err(|e| PyValueError::new_err(e.to_string()))?;
    RawValue::from_string(text).map_err(|e| PyValueError::new_err(e.to_string()))
}

pub(crate) fn values_to_payload<'py>(
    values: impl Iterator<Item = Bound<'py, PyAny>>,
) -> PyResult<Payload> {
    let mut writer = Writer::default();
    writer.out.push('[');
    for (i, value) in values.enumerate() {
        if i > 0 {
            writer.out.push(',');
        }
        writer.value(&value, 0)?;
    }
    writer.out.push(']');
    let binary = std::mem::take(&mut writer.binary);
    Payload::from_json(writer.into_text(), binary).map_err(|e| PyValueError::new_err(e.to_string()))
}

/// JSON text written straight from Python objects, strings escaped by the core's
/// encoder (`ferrosocket::protocol::socket::push_json_string`), so everything the server
/// sends is escaped one way.
#[derive(Default)]
struct Writer {
    out: String,
    binary: Vec<Bytes>,
}

impl Writer {
    fn into_text(self) -> String {
        self.out
    }

    fn str(&mut self, text: &str) {
        push_json_string(&mut self.out, text);
    }

    fn value(&mut self, value: &Bound<'_, PyAny>, depth: usize) -> PyResult<()> {
        if depth > MAX_DEPTH {
            return Err(PyValueError::new_err(
                "data nested too deeply (or refers to itself)",
            ));
        }
        if value.is_none() {
            self.out.push_str("null");
            return Ok(());
        }
        // bool before int: bool is a subclass of int.
        if let Ok(flag) = value.cast::<PyBool>() {
            self.out
                .push_str(if flag.is_true() { "true" } else { "false" });
            return Ok(());
        }
        if let Ok(int) = value.cast::<PyInt>() {
            if let Ok(n) = int.extract::<i64>() {
                let _ = write!(self.out, "{n}");
            } else if let Ok(n) = int.extract::<u64>() {
                let _ = write!(self.out, "{n}");
            } else {
                // Beyond 64 bits: Python's own decimal text (`int.__repr__`, as `json`
                // writes it, also for subclasses).
                let text = value
                    .py()
                    .get_type::<PyInt>()
                    .call_method1("__repr__", (int,))?;
                self.out.push_str(&text.cast::<PyString>()?.to_cow()?);
            }
            return Ok(());
        }
        if let Ok(float) = value.cast::<PyFloat>() {
            let f = float.value();
            if !f.is_finite() {
                return Err(PyValueError::new_err("NaN and infinity are not valid JSON"));
            }
            // serde_json's shortest round-trip form (`1.0`, `1e21`: a float stays a float,
            // as with `json.dumps`), at most 24 bytes, written through a stack buffer.
            let mut buf = [0u8; 32];
            let mut rest = &mut buf[..];
            serde_json::to_writer(&mut rest, &f)
                .map_err(|e| PyValueError::new_err(e.to_string()))?;
            let written = 32 - rest.len();
            let text = std::str::from_utf8(&buf[..written])
                .map_err(|e| PyValueError::new_err(e.to_string()))?;
            self.out.push_str(text);
            return Ok(());
        }
        if let Ok(text) = value.cast::<PyString>() {
            self.str(&text.to_cow()?);
            return Ok(());
        }
        if let Ok(bytes) = value.cast::<PyBytes>() {
            self.placeholder(Bytes::copy_from_slice(bytes.as_bytes()));
            return Ok(());
        }
        if let Ok(bytes) = value.cast::<PyByteArray>() {
            self.placeholder(Bytes::from(bytes.to_vec()));
            return Ok(());
        }
        if let Ok(dict) = value.cast::<PyDict>() {
            self.out.push('{');
            for (i, (key, item)) in dict.iter().enumerate() {
                let Ok(key) = key.cast::<PyString>() else {
                    return Err(PyTypeError::new_err(format!(
                        "dict keys must be str, not {}",
                        type_name(&key)
                    )));
                };
                if i > 0 {
                    self.out.push(',');
                }
                self.str(&key.to_cow()?);
                self.out.push(':');
                self.value(&item, depth + 1)?;
            }
            self.out.push('}');
            return Ok(());
        }
        if let Ok(list) = value.cast::<PyList>() {
            return self.array(list.iter(), depth);
        }
        if let Ok(tuple) = value.cast::<PyTuple>() {
            return self.array(tuple.iter(), depth);
        }
        Err(PyTypeError::new_err(format!(
            "Object of type {} is not JSON serializable",
            type_name(value)
        )))
    }

    fn array<'py>(
        &mut self,
        items: impl Iterator<Item = Bound<'py, PyAny>>,
        depth: usize,
    ) -> PyResult<()> {
        self.out.push('[');
        for (i, item) in items.enumerate() {
            if i > 0 {
                self.out.push(',');
            }
            self.value(&item, depth + 1)?;
        }
        self.out.push(']');
        Ok(())
    }

    fn placeholder(&mut self, data: Bytes) {
        let _ = write!(
            self.out,
            r#"{{"_placeholder":true,"num":{}}}"#,
            self.binary.len()
        );
        self.binary.push(data);
    }
}

fn type_name(value: &Bound<'_, PyAny>) -> String {
    value
        .get_type()
        .name()
        .map_or_else(|_| "?".to_owned(), |n| n.to_string())
}

/// The arguments of an incoming event or acknowledgement as Python objects.
pub(crate) fn payload_to_py<'py>(
    py: Python<'py>,
    payload: &Payload,
) -> PyResult<Vec<Bound<'py, PyAny>>> {
    let mut reader = Reader::new(py, payload.json(), payload.binary());
    let args = reader.value(0)?;
    reader.end()?;
    let args = args.cast_into::<PyList>()?;
    Ok(args.iter().collect())
}

/// One JSON text (e.g. a connect's auth) as a Python object.
pub(crate) fn json_text_to_py<'py>(py: Python<'py>, text: &str) -> PyResult<Bound<'py, PyAny>> {
    let mut reader = Reader::new(py, text, &[]);
    let value = reader.value(0)?;
    reader.end()?;
    Ok(value)
}

/// A one-pass JSON reader building Python objects as it goes. Its input was validated
/// by the core; anything unexpected is still an error, never a panic.
struct Reader<'a, 'py> {
    py: Python<'py>,
    text: &'a str,
    pos: usize,
    binary: &'a [Bytes],
}

fn bad(what: &str) -> PyErr {
    PyValueError::new_err(format!("invalid JSON: {what}"))
}

impl<'a, 'py> Reader<'a, 'py> {
    fn new(py: Python<'py>, text: &'a str, binary: &'a [Bytes]) -> Self {
        Self {
            py,
            text,
            pos: 0,
            binary,
        }
    }

    fn peek(&self) -> Option<u8> {
        self.text.as_bytes().get(self.pos).copied()
    }

    fn skip_ws(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t' | b'\n' | b'\r')) {
            self.pos += 1;
        }
    }

    fn end(&mut self) -> PyResult<()> {
        self.skip_ws();
        if self.pos == self.text.len() {
            Ok(())
        } else {
            Err(bad("trailing characters"))
        }
    }

    fn literal(&mut self, word: &str) -> PyResult<()> {
        if self.text.as_bytes()[self.pos..].starts_with(word.as_bytes()) {
            self.pos += word.len();
            Ok(())
        } else {
            Err(bad("unknown literal"))
        }
    }

    fn value(&mut self, depth: usize) -> PyResult<Bound<'py, PyAny>> {
        if depth > MAX_DEPTH {
            return Err(bad("nested too deeply"));
        }
        self.skip_ws();
        let py = self.py;
        match self.peek() {
            Some(b'{') => self.object(depth),
            Some(b'[') => {
                self.pos += 1;
                let list = PyList::empty(py);
                self.skip_ws();
                if self.peek() == Some(b']') {
                    self.pos += 1;
                    return Ok(list.into_any());
                }
                loop {
                    list.append(self.value(depth + 1)?)?;
                    self.skip_ws();
                    match self.peek() {
                        Some(b',') => self.pos += 1,
                        Some(b']') => {
                            self.pos += 1;
                            return Ok(list.into_any());
                        }
                        _ => return Err(bad("expected , or ]")),
                    }
                }
            }
            Some(b'"') => Ok(PyString::new(py, &self.string()?).into_any()),
            Some(b't') => {
                self.literal("true")?;
                Ok(PyBool::new(py, true).to_owned().into_any())
            }
            Some(b'f') => {
                self.literal("false")?;
                Ok(PyBool::new(py, false).to_owned().into_any())
            }
            Some(b'n') => {
                self.literal("null")?;
                Ok(PyNone::get(py).to_owned().into_any())
            }
            Some(b'-' | b'0'..=b'9') => self.number(),
            _ => Err(bad("expected a value")),
        }
    }

    fn object(&mut self, depth: usize) -> PyResult<Bound<'py, PyAny>> {
        self.pos += 1;
        let dict = PyDict::new(self.py);
        self.skip_ws();
        if self.peek() == Some(b'}') {
            self.pos += 1;
            return Ok(dict.into_any());
        }
        loop {
            self.skip_ws();
            if self.peek() != Some(b'"') {
                return Err(bad("expected a key"));
            }
            let key = self.string()?;
            self.skip_ws();
            if self.peek() != Some(b':') {
                return Err(bad("expected :"));
            }
            self.pos += 1;
            let item = self.value(depth + 1)?;
            dict.set_item(&*key, item)?;
            self.skip_ws();
            match self.peek() {
                Some(b',') => self.pos += 1,
                Some(b'}') => {
                    self.pos += 1;
                    break;
                }
                _ => return Err(bad("expected , or }")),
            }
        }
        Ok(self.attachment(&dict)?.unwrap_or_else(|| dict.into_any()))
    }

    /// The attachment a `{"_placeholder":true,"num":i}` stands for (python-socketio's
    /// test: a true `_placeholder` and a `num`).
    fn attachment(&self, dict: &Bound<'py, PyDict>) -> PyResult<Option<Bound<'py, PyAny>>> {
        if self.binary.is_empty() {
            return Ok(None);
        }
        let Some(flag) = dict.get_item("_placeholder")? else {
            return Ok(None);
        };
        if !flag.is_truthy()? {
            return Ok(None);
        }
        let Some(num) = dict.get_item("num")? else {
            return Ok(None);
        };
        Ok(num
            .extract::<usize>()
            .ok()
            .and_then(|n| self.binary.get(n))
            .map(|data| PyBytes::new(self.py, data).into_any()))
    }

    fn string(&mut self) -> PyResult<Cow<'a, str>> {
        let bytes = self.text.as_bytes();
        let start = self.pos + 1;
        let mut i = start;
        while let Some(&b) = bytes.get(i) {
            match b {
                b'"' => {
                    self.pos = i + 1;
                    return Ok(Cow::Borrowed(&self.text[start..i]));
                }
                b'\\' => break,
                _ => i += 1,
            }
        }
        let mut out = String::from(&self.text[start..i]);
        loop {
            match bytes.get(i) {
                None => return Err(bad("unterminated string")),
                Some(b'"') => {
                    self.pos = i + 1;
                    return Ok(Cow::Owned(out));
                }
                Some(b'\\') => {
                    let escape = bytes.get(i + 1).copied();
                    i += 2;
                    match escape {
                        Some(b'"') => out.push('"'),
                        Some(b'\\') => out.push('\\'),
                        Some(b'/') => out.push('/'),
                        Some(b'b') => out.push('\u{8}'),
                        Some(b'f') => out.push('\u{c}'),
                        Some(b'n') => out.push('\n'),
                        Some(b'r') => out.push('\r'),
                        Some(b't') => out.push('\t'),
                        Some(b'u') => {
                            let high = self.hex4(i)?;
                            i += 4;
                            let code = if (0xD800..0xDC00).contains(&high) {
                                if bytes.get(i..i + 2) != Some(b"\\u") {
                                    return Err(bad("lone surrogate"));
                                }
                                let low = self.hex4(i + 2)?;
                                if !(0xDC00..0xE000).contains(&low) {
                                    return Err(bad("lone surrogate"));
                                }
                                i += 6;
                                0x10000 + ((high - 0xD800) << 10) + (low - 0xDC00)
                            } else {
                                high
                            };
                            out.push(char::from_u32(code).ok_or_else(|| bad("lone surrogate"))?);
                        }
                        _ => return Err(bad("unknown escape")),
                    }
                }
                Some(_) => {
                    // Copy the run up to the next quote or backslash (whole UTF-8 chars).
                    let run = bytes[i..]
                        .iter()
                        .position(|&b| b == b'"' || b == b'\\')
                        .map_or(bytes.len(), |n| i + n);
                    out.push_str(&self.text[i..run]);
                    i = run;
                }
            }
        }
    }

    fn hex4(&self, at: usize) -> PyResult<u32> {
        self.text
            .get(at..at + 4)
            .and_then(|hex| u32::from_str_radix(hex, 16).ok())
            .ok_or_else(|| bad("bad \\u escape"))
    }

    fn number(&mut self) -> PyResult<Bound<'py, PyAny>> {
        let bytes = self.text.as_bytes();
        let start = self.pos;
        let mut i = start;
        let mut integer = true;
        while let Some(&b) = bytes.get(i) {
            match b {
                b'0'..=b'9' | b'-' => {}
                b'.' | b'e' | b'E' | b'+' => integer = false,
                _ => break,
            }
            i += 1;
        }
        self.pos = i;
        let text = &self.text[start..i];
        let py = self.py;
        if integer {
            if let Ok(n) = text.parse::<i64>() {
                return Ok(n.into_pyobject(py)?.into_any());
            }
            if text.len() > MAX_INT_CHARS {
                return Err(PyValueError::new_err("Integer is too large"));
            }
            if let Ok(n) = text.parse::<u64>() {
                return Ok(n.into_pyobject(py)?.into_any());
            }
            return py.get_type::<PyInt>().call1((text,));
        }
        let f: f64 = text.parse().map_err(|_| bad("bad number"))?;
        Ok(PyFloat::new(py, f).into_any())
    }
}
