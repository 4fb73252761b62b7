//! What palgen prints for a reader: resolved settings (`show`), the profile
//! table (`list`) and the difference of two profiles (`diff`).

pub mod diff;
pub mod list;
pub mod show;
