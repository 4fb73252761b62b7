//! The resolved profile as data: typed settings, the quantities and image
//! references they hold, and the values derived from them once.

pub mod derived;
pub mod image;
pub mod offsite;
pub mod quantity;
pub mod settings;
