//! PATCH semantics for request bodies.

use serde::{Deserialize, Deserializer};

/// For `#[serde(default, deserialize_with = "present")]` on an `Option<Option<T>>` field:
/// an absent field stays `None` (leave unchanged), an explicit `null` becomes `Some(None)`
/// (clear), a value becomes `Some(Some(v))` (set).
pub fn present<'de, D, T>(d: D) -> Result<Option<Option<T>>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(d).map(Some)
}
