/**
 * Escaping for XML 1.0 text and attribute values (XML 1.0 §2.2, §2.4, §3.3.3).
 *
 * Characters XML 1.0 cannot carry at all — C0 controls other than tab, line feed and
 * carriage return, lone surrogates, U+FFFE and U+FFFF — become U+FFFD, so that output
 * built from arbitrary strings (error messages, server diagnostics) is always well-formed.
 */

// XML 1.0 §2.2: Char ::= #x9 | #xA | #xD | [#x20-#xD7FF] | [#xE000-#xFFFD] | [#x10000-#x10FFFF]
const NOT_XML_CHAR = /[^\t\n\r\x20-\ud7ff\ue000-\ufffd\u{10000}-\u{10ffff}]/gu;

/** `text` with every character XML 1.0 forbids replaced by U+FFFD. */
export function xmlSafe(text: string): string {
  return text.replace(NOT_XML_CHAR, '\ufffd');
}

/** Escapes character data: `&`, `<`, and `>` (for `]]>`). */
export function escapeText(text: string): string {
  return xmlSafe(text).replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

/**
 * Escapes an attribute value for double quotes. Tab, line feed and carriage return are
 * written as references, since attribute-value normalisation would turn them into spaces (§3.3.3).
 */
export function escapeAttribute(text: string): string {
  return escapeText(text).replace(/"/g, '&quot;').replace(/\t/g, '&#9;').replace(/\n/g, '&#10;').replace(/\r/g, '&#13;');
}
