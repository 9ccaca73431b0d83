//! `aimdb-records`: the record types, keys, codecs and topic scheme shared by gateway and nodes.
#![no_std]
extern crate alloc;
