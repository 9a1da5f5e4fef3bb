package dev.spillway.counter;

/** One counter key: what a flush touched, named for the cache invalidations it triggers. */
public record CounterRef(String counter, String key) {}
