//! One file per Wayland protocol: the smithay handler trait for [`State`](crate::State) and its
//! `delegate_*!` right below it.
//!
//! Every global created here is part of the safe set offered to levels (see
//! docs/ARCHITECTURE.md). Privileged protocols (screen capture, data control, virtual input,
//! layer shell, session lock, foreign toplevel, output management, input methods…) are never
//! created, so no level can bind them.

pub mod compositor;
pub mod cursor_shape;
pub mod data_device;
pub mod fractional_scale;
pub mod output;
pub mod presentation;
pub mod primary_selection;
pub mod seat;
pub mod shm;
pub mod single_pixel_buffer;
pub mod viewporter;
pub mod xdg_decoration;
pub mod xdg_shell;
