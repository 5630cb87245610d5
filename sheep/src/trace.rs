//! Reader for the golden `sdtrace v1` recordings.
