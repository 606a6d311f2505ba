//! Large answers written element by element.
//!
//! A payout run over 33,500 affiliates answers with 33,500 payouts (24 MB of JSON). Built
//! as one `serde_json::Value` first, every payout became a map of twenty keys and values,
//! each its own allocation: several times the size of the text, held at once with the rows
//! it came from and the text itself, and the server's peak memory. Here each element's
//! `Value` is built, written and dropped before the next, so only the text grows.
//!
//! The bytes stay what `json!` wrote: serde_json is built without `preserve_order`, so a
//! `Value` object writes its keys sorted, and these writers keep that order (the tests
//! compare both texts).

use serde::ser::{Serialize, SerializeMap, SerializeSeq, Serializer};
use serde_json::Value;

/// A JSON array of `items`, each written as `to_json(item)` when its turn comes.
pub struct Each<'a, T, F>(pub &'a [T], pub F)
where
    F: Fn(&T) -> Value;

impl<T, F> Serialize for Each<'_, T, F>
where
    F: Fn(&T) -> Value,
{
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut seq = s.serialize_seq(Some(self.0.len()))?;
        for item in self.0 {
            seq.serialize_element(&(self.1)(item))?;
        }
        seq.end()
    }
}

/// The object `base` with one more entry, `key: value`, at its sorted place among
/// `base`'s keys (where `json!` would have put it). `base` is written as is if it is
/// not an object.
pub struct WithEntry<'a, V: Serialize> {
    /// The small part of the object, built as a `Value`.
    pub base: Value,
    /// The added key.
    pub key: &'a str,
    /// The large part, written lazily.
    pub value: V,
}

impl<V: Serialize> Serialize for WithEntry<'_, V> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let Value::Object(base) = &self.base else {
            return self.base.serialize(s);
        };
        let mut map = s.serialize_map(Some(base.len() + 1))?;
        let mut placed = false;
        for (k, v) in base {
            if k.as_str() == self.key {
                // The added entry replaces a key of the same name, as `base[key] = …` did.
                continue;
            }
            if !placed && k.as_str() > self.key {
                map.serialize_entry(self.key, &self.value)?;
                placed = true;
            }
            map.serialize_entry(k, v)?;
        }
        if !placed {
            map.serialize_entry(self.key, &self.value)?;
        }
        map.end()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn each_writes_what_a_built_array_writes() {
        let items = [1, 2, 3];
        let f = |n: &i32| json!({"n": n, "a": [n, n], "z": null});
        let lazy = serde_json::to_string(&Each(&items, f)).unwrap();
        let built: Value = items.iter().map(f).collect();
        assert_eq!(lazy, built.to_string());
        assert_eq!(
            serde_json::to_string(&Each(&[] as &[i32], f)).unwrap(),
            "[]"
        );
    }

    #[test]
    fn with_entry_puts_the_key_where_a_value_object_would() {
        let base = json!({"b": 1, "d": {"x": 2}, "payouts": 3});
        for key in ["a", "c", "e", "payout_list", "zz", "b"] {
            let lazy = serde_json::to_string(&WithEntry {
                base: base.clone(),
                key,
                value: Each(&[7], |n| json!(n)),
            })
            .unwrap();
            let mut built = base.clone();
            built[key] = json!([7]);
            assert_eq!(lazy, built.to_string(), "{key}");
        }
        let not_object = serde_json::to_string(&WithEntry {
            base: json!([1]),
            key: "k",
            value: 2,
        })
        .unwrap();
        assert_eq!(not_object, "[1]");
    }
}
