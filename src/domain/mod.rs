//! Domain types of the Pinning Service API. Each is built by a `parse` that refuses bad input,
//! so that code holding one never re-checks raw strings.

pub mod cid;
pub mod list_query;
pub mod meta;
pub mod multiaddr;
pub mod name;
pub mod origins;
pub mod pin;
pub mod request_id;
pub mod status;
pub mod timestamp;
pub mod token;
pub mod upload;
