//! HTTP/1 framing guard (being written).
