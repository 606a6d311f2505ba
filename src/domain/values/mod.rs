//! Value types, validated once at the edge. Depends on nothing else in the domain.

pub mod bps;
pub mod color;
pub mod csv;
pub mod currency;
pub mod destination;
pub mod email;
pub mod host;
pub mod money;
pub mod patch;
pub mod slug;
pub mod status;
pub mod text;
pub mod tokens;

pub use currency::Currency;
pub use email::Email;
pub use money::Money;
