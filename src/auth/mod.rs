//! Sign-in state: settings, the shared config file that stores the refresh token, Okta,
//! and the access-token cache with its refresh cycle.

pub mod config_file;
pub mod config_splice;
pub mod device;
pub mod digest;
pub mod okta;
pub mod replace;
pub mod settings;
pub mod store;
pub mod token;

pub use token::Auth;
