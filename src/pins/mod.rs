//! The pins resource: `model` (the spec's types), `service` (operations), `api` (HTTP handlers).

pub mod api;
mod content;
pub mod model;
pub mod service;
