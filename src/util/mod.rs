//! Leaf helpers that any module may use and that use none of promptgate's own: calendar
//! arithmetic, HTTP plumbing shared by the provider and GitHub clients, message text, and
//! SVG line charts.

pub mod chart;
pub mod http;
pub mod text;
pub mod time;
