//! An IPFS Pinning Service API on Cloudflare Workers.
//!
//! A request travels: `edge` (workers-rs glue, wasm only) → `app` (routing) → `auth` →
//! `pins` / `tokens` (api → service) → `store` (KV layout) → `backend` (what pinning means) →
//! `upstream` (the `upstream` backend: a Pinning Service API provider pins; a cron sweeps).
//! Everything but `edge` is plain Rust and is tested natively.

pub mod app;
pub mod auth;
pub mod backend;
pub mod config;
pub mod config_cache;
pub mod domain;
pub mod error;
pub mod gateway;
pub mod http;
pub mod ipld;
pub mod limits;
pub mod pins;
pub mod quota;
pub mod r2;
pub mod store;
pub mod tokens;
pub mod upstream;

#[cfg(target_arch = "wasm32")]
mod edge;
