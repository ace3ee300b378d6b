//! Collection against the local emulators (`trailproof-emulate`).

#[path = "../common/mod.rs"]
mod common;

mod assertions;
mod backfill;
mod basic;
mod check;
mod faults;
mod kill;
mod overlap;
mod settling;
