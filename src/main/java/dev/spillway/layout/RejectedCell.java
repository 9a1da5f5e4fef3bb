package dev.spillway.layout;

/**
 * A pending cell that cannot be applied, on its way to {@code dead_letter}. {@code counter} and
 * {@code key} are null when the cell name itself could not be parsed; {@code raw} then holds it.
 */
public record RejectedCell(String counter, String key, String raw, String value, String reason) {}
