//! The HTTP emulators driven with reqwest: paging, filters, auth, rate limits, faults, polling.

#[path = "../common/mod.rs"]
mod common;
mod entra;
mod faults;
mod google;
mod okta;
