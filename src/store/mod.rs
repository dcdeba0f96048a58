//! Storage of pinsets in Workers KV.

pub mod counts;
mod join;
pub mod keys;
pub mod kv;
mod listing;
pub mod names;
pub mod paced;
pub mod pins;
pub mod record;
pub mod repair;
pub mod tokens;
pub mod usage;
