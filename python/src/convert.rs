//! Python values ⇄ Socket.IO payloads, done in Rust while the GIL is held (no `json`
//! module round-trip).
//!
//! Outbound: dict/list/tuple/str/int/float/bool/None/bytes/bytearray become JSON; each
//! `bytes` becomes a `{"_placeholder":true,"num":i}` and attachment `i`. Anything else is
//! a `TypeError` naming the type. Inbound: the reverse, with `bytes` in place of each
//! placeholder.

use bytes::Bytes;
use ferrosocket::Payload;
use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{
    PyBool, PyByteArray, PyBytes, PyDict, PyFloat, PyInt, PyList, PyNone, PyString, PyTuple,
};
use serde_json::{Map, Number, Value};

/// Deeper nesting is refused: it also stops a self-referencing list from recursing forever.
const MAX_DEPTH: usize = 256;

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

/// A JSON value (for a connect refusal's `data`); bytes are refused there.
pub(crate) fn to_json_value(value: &Bound<'_, PyAny>) -> PyResult<Value> {
    let mut binary = Vec::new();
    let json = to_json(value, &mut binary, 0)?;
    if !binary.is_empty() {
        return Err(PyTypeError::new_err("bytes are not allowed here"));
    }
    Ok(json)
}

fn values_to_payload<'py>(values: impl Iterator<Item = Bound<'py, PyAny>>) -> PyResult<Payload> {
    let mut binary = Vec::new();
    let args = values
        .map(|value| to_json(&value, &mut binary, 0))
        .collect::<PyResult<Vec<Value>>>()?;
    let text = serde_json::to_string(&Value::Array(args))
        .map_err(|e| PyValueError::new_err(e.to_string()))?;
    Payload::from_json(text, binary).map_err(|e| PyValueError::new_err(e.to_string()))
}

fn to_json(value: &Bound<'_, PyAny>, binary: &mut Vec<Bytes>, depth: usize) -> PyResult<Value> {
    if depth > MAX_DEPTH {
        return Err(PyValueError::new_err(
            "data nested too deeply (or refers to itself)",
        ));
    }
    if value.is_none() {
        return Ok(Value::Null);
    }
    // bool before int: bool is a subclass of int.
    if let Ok(flag) = value.cast::<PyBool>() {
        return Ok(Value::Bool(flag.is_true()));
    }
    if let Ok(int) = value.cast::<PyInt>() {
        if let Ok(n) = int.extract::<i64>() {
            return Ok(Value::from(n));
        }
        if let Ok(n) = int.extract::<u64>() {
            return Ok(Value::from(n));
        }
        return Err(PyValueError::new_err(
            "int out of range for JSON (must fit in 64 bits)",
        ));
    }
    if let Ok(float) = value.cast::<PyFloat>() {
        return Number::from_f64(float.value())
            .map(Value::Number)
            .ok_or_else(|| PyValueError::new_err("NaN and infinity are not valid JSON"));
    }
    if let Ok(text) = value.cast::<PyString>() {
        return Ok(Value::String(text.to_cow()?.into_owned()));
    }
    if let Ok(bytes) = value.cast::<PyBytes>() {
        return Ok(placeholder(
            binary,
            Bytes::copy_from_slice(bytes.as_bytes()),
        ));
    }
    if let Ok(bytes) = value.cast::<PyByteArray>() {
        return Ok(placeholder(binary, Bytes::from(bytes.to_vec())));
    }
    if let Ok(dict) = value.cast::<PyDict>() {
        let mut map = Map::with_capacity(dict.len());
        for (key, item) in dict.iter() {
            let Ok(key) = key.cast::<PyString>() else {
                return Err(PyTypeError::new_err(format!(
                    "dict keys must be str, not {}",
                    type_name(&key)
                )));
            };
            map.insert(
                key.to_cow()?.into_owned(),
                to_json(&item, binary, depth + 1)?,
            );
        }
        return Ok(Value::Object(map));
    }
    if let Ok(list) = value.cast::<PyList>() {
        return list
            .iter()
            .map(|item| to_json(&item, binary, depth + 1))
            .collect::<PyResult<Vec<_>>>()
            .map(Value::Array);
    }
    if let Ok(tuple) = value.cast::<PyTuple>() {
        return tuple
            .iter()
            .map(|item| to_json(&item, binary, depth + 1))
            .collect::<PyResult<Vec<_>>>()
            .map(Value::Array);
    }
    Err(PyTypeError::new_err(format!(
        "Object of type {} is not JSON serializable",
        type_name(value)
    )))
}

fn type_name(value: &Bound<'_, PyAny>) -> String {
    value
        .get_type()
        .name()
        .map_or_else(|_| "?".to_owned(), |n| n.to_string())
}

fn placeholder(binary: &mut Vec<Bytes>, data: Bytes) -> Value {
    binary.push(data);
    Payload::placeholder(binary.len() - 1)
}

/// The arguments of an incoming event or acknowledgement as Python objects.
pub(crate) fn payload_to_py<'py>(
    py: Python<'py>,
    payload: &Payload,
) -> PyResult<Vec<Bound<'py, PyAny>>> {
    let values = payload
        .values()
        .map_err(|e| PyValueError::new_err(e.to_string()))?;
    values
        .iter()
        .map(|value| from_json(py, value, payload.binary()))
        .collect()
}

/// One JSON value (e.g. a connect's auth) as a Python object.
pub(crate) fn json_to_py<'py>(py: Python<'py>, value: &Value) -> PyResult<Bound<'py, PyAny>> {
    from_json(py, value, &[])
}

fn from_json<'py>(py: Python<'py>, value: &Value, binary: &[Bytes]) -> PyResult<Bound<'py, PyAny>> {
    Ok(match value {
        Value::Null => PyNone::get(py).to_owned().into_any(),
        Value::Bool(flag) => PyBool::new(py, *flag).to_owned().into_any(),
        Value::Number(n) => {
            if let Some(i) = n.as_i64() {
                i.into_pyobject(py)?.into_any()
            } else if let Some(u) = n.as_u64() {
                u.into_pyobject(py)?.into_any()
            } else {
                n.as_f64().unwrap_or(f64::NAN).into_pyobject(py)?.into_any()
            }
        }
        Value::String(s) => PyString::new(py, s).into_any(),
        Value::Array(items) => {
            let items = items
                .iter()
                .map(|item| from_json(py, item, binary))
                .collect::<PyResult<Vec<_>>>()?;
            PyList::new(py, items)?.into_any()
        }
        Value::Object(map) => {
            if let Some(num) = placeholder_num(map) {
                if let Some(data) = binary.get(num) {
                    return Ok(PyBytes::new(py, data).into_any());
                }
            }
            let dict = PyDict::new(py);
            for (key, item) in map {
                dict.set_item(key, from_json(py, item, binary)?)?;
            }
            dict.into_any()
        }
    })
}

fn placeholder_num(map: &Map<String, Value>) -> Option<usize> {
    if map.len() != 2 || map.get("_placeholder") != Some(&Value::Bool(true)) {
        return None;
    }
    map.get("num")?
        .as_u64()
        .and_then(|n| usize::try_from(n).ok())
}
