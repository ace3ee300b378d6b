//! The correlation engine: a pure function from a [`Snapshot`] (events, coverage) and compiled
//! configuration to one [`VerdictRecord`] per successful ConsoleLogin.
//!
//! No I/O, no clock: the same snapshot and configuration give the same records, byte for byte
//! once serialized. The rules are docs/judging.md; every section there maps to a function here
//! (`path`, `searched_idps`, `match_users`, `candidates`, `okta_mfa`/`entra_mfa`/`google_mfa`,
//! `signals`). The guiding invariant: **never a false `enforced`**. Whatever is missing from the
//! snapshot, the verdict can only move to `not_enforced`, `no_idp_login` or `unknown`.

pub mod agreement;
pub mod config;
mod engine;
mod explain;

pub use agreement::{Agreement, Mismatch, agreement};
pub use config::{Compiled, ConfigError};
pub use engine::{correlate, idp_plan, principal_key, user_lookups};
