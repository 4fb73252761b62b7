//! The resolved profile as data: typed settings, the quantities and image
//! references they hold, and the values derived from them once.

pub mod cron;
pub mod derived;
pub mod image;
pub mod memory;
pub mod offsite;
pub mod pg_ranges;
pub mod quantity;
pub mod recovery;
pub mod server_processes;
pub mod settings;
