//! Event arguments as they travel: a JSON array plus binary attachments, and the checks
//! that make accepted JSON parse the same everywhere later. Values only; never does I/O
//! and never depends on tokio.
//!
//! Socket.IO sends binary by replacing each buffer in the arguments with a placeholder
//! object `{"_placeholder":true,"num":i}` and sending the buffers as separate binary
//! frames. [`Payload`] keeps exactly that shape: the arguments as JSON text (never parsed
//! more than needed) and the attachments in order. Bindings hand the JSON to C or
//! Python as it is; Rust code parses it into its own types with [`Payload::parse`].

use bytes::Bytes;
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::value::RawValue;

/// The arguments of an event or an acknowledgement.
///
/// Invariant: `json` is always the text of a valid JSON array.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Payload {
    json: String,
    binary: Vec<Bytes>,
}

/// Arguments that could not be built or parsed.
#[derive(Debug, thiserror::Error)]
pub enum PayloadError {
    /// The JSON text was not valid, or did not match the requested type.
    #[error("invalid arguments: {0}")]
    Json(#[from] serde_json::Error),
    /// The value did not serialize to a JSON array.
    #[error("arguments must be a JSON array")]
    NotAnArray,
    /// A binary placeholder refers to an attachment that does not exist.
    #[error("binary placeholder {num} refers past the {count} attachments")]
    BadPlaceholder {
        /// The placeholder's attachment index.
        num: u64,
        /// How many attachments there are.
        count: usize,
    },
}

impl Default for Payload {
    fn default() -> Self {
        Self::empty()
    }
}

impl Payload {
    /// No arguments.
    pub fn empty() -> Self {
        Self {
            json: "[]".to_owned(),
            binary: Vec::new(),
        }
    }

    /// One argument: `value` serialized as JSON.
    ///
    /// ```
    /// let p = ferrosocket::Payload::one(&serde_json::json!({"text": "hi"})).unwrap();
    /// assert_eq!(p.json(), r#"[{"text":"hi"}]"#);
    /// ```
    pub fn one<T: Serialize + ?Sized>(value: &T) -> Result<Self, PayloadError> {
        let mut json = String::with_capacity(64);
        json.push('[');
        json.push_str(&serde_json::to_string(value)?);
        json.push(']');
        Ok(Self {
            json,
            binary: Vec::new(),
        })
    }

    /// One argument given as JSON text (`{"text":"hi"}`, `"hi"`, `3`), kept as it is
    /// rather than parsed and serialized again: for a value that is already JSON (a
    /// `serde_json::value::RawValue`, JSON from C or a database). The text is checked like
    /// [`Payload::from_json`] checks its array: exactly one JSON value, surrounding JSON
    /// whitespace dropped, nesting within the limit once it is inside the array.
    ///
    /// ```
    /// let p = ferrosocket::Payload::one_raw(r#" {"text":"hi"} "#).unwrap();
    /// assert_eq!(p.json(), r#"[{"text":"hi"}]"#);
    /// assert!(ferrosocket::Payload::one_raw("1,2").is_err());
    /// ```
    pub fn one_raw(json: &str) -> Result<Self, PayloadError> {
        let value = trim_json_whitespace(json);
        // One element of an array: a single value, one nesting level less than a document.
        serde_json::from_str::<ArrayElement>(value)?;
        let mut json = String::with_capacity(value.len() + 2);
        json.push('[');
        json.push_str(value);
        json.push(']');
        Ok(Self {
            json,
            binary: Vec::new(),
        })
    }

    /// Several arguments: `values` must serialize to a JSON array (a tuple, a slice, a
    /// `Vec`), whose elements become the arguments.
    ///
    /// ```
    /// let p = ferrosocket::Payload::many(&("room", 3)).unwrap();
    /// assert_eq!(p.json(), r#"["room",3]"#);
    /// ```
    pub fn many<T: Serialize + ?Sized>(values: &T) -> Result<Self, PayloadError> {
        let json = serde_json::to_string(values)?;
        if !json.starts_with('[') {
            return Err(PayloadError::NotAnArray);
        }
        Ok(Self {
            json,
            binary: Vec::new(),
        })
    }

    /// Arguments from JSON array text and attachments, validated: the text must be a JSON
    /// array that [`Payload::values`] can parse (numbers in range, nesting within 128
    /// levels, no lone surrogates), and when attachments are given every binary
    /// placeholder in it must refer to one. Surrounding whitespace is dropped.
    pub fn from_json(json: impl Into<String>, binary: Vec<Bytes>) -> Result<Self, PayloadError> {
        let mut json = json.into();
        let trimmed = trim_json_whitespace(&json);
        if trimmed.len() != json.len() {
            json = trimmed.to_owned();
        }
        if binary.is_empty() {
            if !json.starts_with('[') {
                return Err(PayloadError::NotAnArray);
            }
            validate(&json)?;
        } else {
            validate(&json)?;
            let value: serde_json::Value = serde_json::from_str(&json)?;
            if !value.is_array() {
                return Err(PayloadError::NotAnArray);
            }
            check_placeholders(&value, binary.len())?;
        }
        Ok(Self { json, binary })
    }

    /// Builds a payload from parts the caller has already validated (the decoder).
    pub(crate) fn from_parts_unchecked(json: String, binary: Vec<Bytes>) -> Self {
        Self { json, binary }
    }

    /// Adds attachments, returning the payload. Reference them from the JSON with
    /// [`Payload::placeholder`]; attachments are numbered from 0 in the order given.
    ///
    /// ```
    /// use ferrosocket::Payload;
    /// let p = Payload::one(&serde_json::json!({"file": Payload::placeholder(0)}))
    ///     .unwrap()
    ///     .with_binary(vec![bytes::Bytes::from_static(b"\x00\x01")]);
    /// assert_eq!(p.binary().len(), 1);
    /// ```
    pub fn with_binary(mut self, binary: Vec<Bytes>) -> Self {
        self.binary = binary;
        self
    }

    /// The placeholder object that stands for attachment `num` inside the JSON.
    pub fn placeholder(num: usize) -> serde_json::Value {
        serde_json::json!({"_placeholder": true, "num": num})
    }

    /// The arguments as JSON array text (placeholders in place of binary).
    pub fn json(&self) -> &str {
        &self.json
    }

    /// The binary attachments, in placeholder order.
    pub fn binary(&self) -> &[Bytes] {
        &self.binary
    }

    /// Takes the payload apart into its JSON text and attachments.
    pub fn into_parts(self) -> (String, Vec<Bytes>) {
        (self.json, self.binary)
    }

    /// Parses the argument array into `T`: a tuple `(A, B)`, a `Vec<T>`, or a struct that
    /// deserializes from a sequence. Placeholders stay as JSON objects.
    ///
    /// ```
    /// let p = ferrosocket::Payload::many(&("hi", 2)).unwrap();
    /// let (text, n): (String, u32) = p.parse().unwrap();
    /// assert_eq!((text.as_str(), n), ("hi", 2));
    /// ```
    pub fn parse<T: DeserializeOwned>(&self) -> Result<T, PayloadError> {
        Ok(serde_json::from_str(&self.json)?)
    }

    /// Parses the first argument into `T` (`null` when there is none).
    pub fn first<T: DeserializeOwned>(&self) -> Result<T, PayloadError> {
        let args: Vec<&RawValue> = serde_json::from_str(&self.json)?;
        let text = args.first().map(|raw| raw.get()).unwrap_or("null");
        Ok(serde_json::from_str(text)?)
    }

    /// The arguments as JSON values.
    pub fn values(&self) -> Result<Vec<serde_json::Value>, PayloadError> {
        self.parse()
    }

    /// How many arguments there are.
    pub fn len(&self) -> usize {
        serde_json::from_str::<Vec<&RawValue>>(&self.json)
            .map(|args| args.len())
            .unwrap_or(0)
    }

    /// Whether there are no arguments.
    pub fn is_empty(&self) -> bool {
        // The text is a trimmed JSON array, so it starts with `[` and ends with `]`.
        trim_json_whitespace(&self.json[1..self.json.len() - 1]).is_empty()
    }
}

/// Whether `b` is whitespace to JSON (RFC 8259 §2: space, tab, line feed, carriage
/// return). Unicode whitespace such as `\x0b`, `\x0c` or U+00A0 is not, so text that
/// starts or ends with it is not JSON and must not be made into JSON by trimming.
pub(crate) fn is_json_whitespace(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | b'\r')
}

/// `text` without leading and trailing JSON whitespace (see [`is_json_whitespace`]).
pub(crate) fn trim_json_whitespace(text: &str) -> &str {
    text.trim_matches(|c: char| c.is_ascii() && is_json_whitespace(c as u8))
}

/// The map key serde_json reserves for its `RawValue` (with its `raw_value` feature,
/// which this crate uses). A `serde_json::Value` built from a map whose first key is this
/// one is not that map: it is whatever JSON the string value holds. Client JSON with
/// this key would mean one thing to a validator and another to every later parse, so it
/// is refused.
pub(crate) const RESERVED_RAW_VALUE_KEY: &str = "$serde_json::private::RawValue";

/// Checks that `text` is one JSON value that parses completely (the same checks as
/// building a `serde_json::Value`), without allocating a tree, and that no map in it
/// uses serde_json's reserved key ([`RESERVED_RAW_VALUE_KEY`]).
pub(crate) fn validate(text: &str) -> Result<(), serde_json::Error> {
    serde_json::from_str::<Checked>(text).map(|_| ())
}

/// How many arrays/objects serde_json lets one document nest (it refuses the 128th).
pub(crate) const MAX_LEVELS: u8 = 127;

/// One element of a JSON array, checked like [`validate`] checks the whole array: it
/// may nest one level less than a document, since the array is a level itself.
/// Deserializing it records nothing, so it can be read from a stream of elements.
pub(crate) struct ArrayElement;

impl<'de> serde::Deserialize<'de> for ArrayElement {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer
            .deserialize_any(CheckedVisitor(MAX_LEVELS - 1))
            .map(|Checked| ArrayElement)
    }
}

/// A JSON value that was checked and dropped.
struct Checked;

impl<'de> serde::Deserialize<'de> for Checked {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        // serde_json's own depth limit applies to a whole document.
        deserializer.deserialize_any(CheckedVisitor(MAX_LEVELS))
    }
}

/// Checks one value that may open at most `.0` more nested arrays/objects.
#[derive(Clone, Copy)]
struct CheckedVisitor(u8);

impl CheckedVisitor {
    fn nested<E: serde::de::Error>(self) -> Result<Self, E> {
        match self.0.checked_sub(1) {
            Some(levels) => Ok(Self(levels)),
            None => Err(E::custom("recursion limit exceeded")),
        }
    }
}

impl<'de> serde::de::DeserializeSeed<'de> for CheckedVisitor {
    type Value = Checked;

    fn deserialize<D: serde::Deserializer<'de>>(
        self,
        deserializer: D,
    ) -> Result<Checked, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> serde::de::Visitor<'de> for CheckedVisitor {
    type Value = Checked;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("any JSON value")
    }
    fn visit_bool<E>(self, _: bool) -> Result<Checked, E> {
        Ok(Checked)
    }
    fn visit_i64<E>(self, _: i64) -> Result<Checked, E> {
        Ok(Checked)
    }
    fn visit_u64<E>(self, _: u64) -> Result<Checked, E> {
        Ok(Checked)
    }
    fn visit_f64<E>(self, _: f64) -> Result<Checked, E> {
        Ok(Checked)
    }
    fn visit_str<E>(self, _: &str) -> Result<Checked, E> {
        Ok(Checked)
    }
    fn visit_unit<E>(self) -> Result<Checked, E> {
        Ok(Checked)
    }
    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<Checked, A::Error> {
        let inner = self.nested()?;
        while seq.next_element_seed(inner)?.is_some() {}
        Ok(Checked)
    }
    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<Checked, A::Error> {
        let inner = self.nested()?;
        while map.next_key_seed(CheckedKey)?.is_some() {
            map.next_value_seed(inner)?;
        }
        Ok(Checked)
    }
}

/// A map key, refused when it is serde_json's reserved key (escapes are resolved before
/// the comparison, so `\u0024serde_json...` is caught too).
struct CheckedKey;

impl<'de> serde::de::DeserializeSeed<'de> for CheckedKey {
    type Value = ();

    fn deserialize<D: serde::Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_str(self)
    }
}

impl<'de> serde::de::Visitor<'de> for CheckedKey {
    type Value = ();

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a map key")
    }
    fn visit_str<E: serde::de::Error>(self, key: &str) -> Result<(), E> {
        if key == RESERVED_RAW_VALUE_KEY {
            return Err(E::custom("reserved map key"));
        }
        Ok(())
    }
}

/// Checks that every placeholder in `value` refers to one of `count` attachments.
pub(crate) fn check_placeholders(
    value: &serde_json::Value,
    count: usize,
) -> Result<(), PayloadError> {
    match value {
        serde_json::Value::Array(items) => items
            .iter()
            .try_for_each(|item| check_placeholders(item, count)),
        serde_json::Value::Object(map) => {
            if map.get("_placeholder") == Some(&serde_json::Value::Bool(true)) {
                let num = map
                    .get("num")
                    .and_then(serde_json::Value::as_u64)
                    .unwrap_or(u64::MAX);
                if num >= count as u64 {
                    return Err(PayloadError::BadPlaceholder { num, count });
                }
                return Ok(());
            }
            map.values()
                .try_for_each(|item| check_placeholders(item, count))
        }
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn builds_and_parses() {
        assert_eq!(Payload::empty().json(), "[]");
        assert!(Payload::empty().is_empty());
        assert_eq!(Payload::empty().len(), 0);
        let p = Payload::many(&(1, "two", [3])).expect("array");
        assert_eq!(p.json(), r#"[1,"two",[3]]"#);
        assert_eq!(p.len(), 3);
        assert!(!p.is_empty());
        let (a, b, c): (u8, String, Vec<u8>) = p.parse().expect("tuple");
        assert_eq!((a, b.as_str(), c), (1, "two", vec![3]));
        assert_eq!(p.first::<u8>().expect("first"), 1);
        assert_eq!(Payload::empty().first::<Option<u8>>().expect("none"), None);
        assert!(matches!(Payload::many(&5), Err(PayloadError::NotAnArray)));
    }

    #[test]
    fn validates_json_and_placeholders() {
        assert!(Payload::from_json("[1,2]", vec![]).is_ok());
        assert!(Payload::from_json("{}", vec![]).is_err());
        assert!(Payload::from_json("[1,", vec![]).is_err());
        let bin = vec![Bytes::from_static(b"x")];
        assert!(Payload::from_json(r#"[{"_placeholder":true,"num":0}]"#, bin.clone()).is_ok());
        assert!(matches!(
            Payload::from_json(r#"[{"_placeholder":true,"num":1}]"#, bin.clone()),
            Err(PayloadError::BadPlaceholder { num: 1, count: 1 })
        ));
        assert!(Payload::from_json(r#"[{"a":[{"_placeholder":true}]}]"#, bin).is_err());
        // Text the full parser would refuse is refused up front.
        assert!(Payload::from_json("[1e400]", vec![]).is_err());
        assert!(Payload::from_json(r#"["\ud800"]"#, vec![]).is_err());
        assert!(
            Payload::from_json(format!("{}{}", "[".repeat(200), "]".repeat(200)), vec![]).is_err()
        );
        // serde_json's reserved key would turn the map into the JSON hidden in its value.
        for hidden in [
            r#"[{"$serde_json::private::RawValue":"[\"x\"]"}]"#,
            r#"[1,{"a":{"\u0024serde_json::private::RawValue":"1"}}]"#,
            r#"[{"b":1,"$serde_json::private::RawValue":"1"}]"#,
        ] {
            assert!(Payload::from_json(hidden, vec![]).is_err(), "{hidden}");
        }
        assert!(Payload::from_json(r#"[{"$serde_json::private::Raw":"1"}]"#, vec![]).is_ok());
        // Only JSON's own whitespace surrounds JSON.
        for bad in ["\u{b}[1]", "[1]\u{c}", "\u{a0}[1]", "[1]\u{2028}"] {
            assert!(Payload::from_json(bad, vec![]).is_err(), "{bad:?}");
        }
        let padded = Payload::from_json(" [1] \n", vec![]).expect("whitespace is trimmed");
        assert_eq!(padded.json(), "[1]");
        assert_eq!(padded.len(), 1);
    }

    #[test]
    fn one_raw_value() {
        for (text, json) in [
            (r#"{"a":[1]}"#, r#"[{"a":[1]}]"#),
            ("\t\"hi\" ", r#"["hi"]"#),
            ("null", "[null]"),
            ("[]", "[[]]"),
        ] {
            let p = Payload::one_raw(text).expect(text);
            assert_eq!(p.json(), json);
            assert_eq!(p.len(), 1);
            assert_eq!(p, Payload::from_json(json, vec![]).expect(json));
        }
        // Not one value, or a value the array form would refuse.
        for bad in [
            "",
            " ",
            "1,2",
            "1]",
            "[1",
            "{",
            "\u{b}1",
            r#"{"$serde_json::private::RawValue":"1"}"#,
        ] {
            assert!(Payload::one_raw(bad).is_err(), "{bad:?}");
        }
        // 127 levels are a whole document's limit: inside the array they are one too many.
        let deep = |k: usize| format!("{}{}", "[".repeat(k), "]".repeat(k));
        assert!(Payload::one_raw(&deep(126)).is_ok());
        assert!(Payload::one_raw(&deep(127)).is_err());
        assert!(Payload::from_json(deep(127), vec![]).is_ok());
    }

    #[test]
    fn emptiness() {
        assert!(Payload::from_json("[ ]", vec![]).expect("empty").is_empty());
        assert!(!Payload::from_json("[[]]", vec![]).expect("one").is_empty());
        assert!(!Payload::from_json("[ 0 ]", vec![]).expect("one").is_empty());
        assert_eq!(
            Payload::placeholder(2),
            json!({"_placeholder": true, "num": 2})
        );
    }
}
