//! Integration tests: the whole service on a loopback port against the fake
//! Instagram of `igfeed_fake` (`crates/igfeed-fake`).

#![allow(
    clippy::unwrap_used,
    reason = "a failed unwrap is a failed test, with its location"
)]

mod accounts;
mod admin;
mod admin_ui;
mod alerts;
mod bad_input;
mod binary;
mod crash;
mod data_dir;
mod demo;
mod feed;
mod health;
mod helpers;
mod http_stack;
mod media;
mod media_http;
mod ops;
mod persist;
mod props;
mod replicas;
mod resilience;
mod slow_clients;
mod token;
mod variants;
mod webhooks;
