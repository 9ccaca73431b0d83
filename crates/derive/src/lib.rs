//! `#[derive(RecordKey)]` for enums naming aimdb records.
