/**
 * Archive entry names and namespaces come from the archive, so a hostile one can hold terminal escape
 * sequences (clear the screen, retitle the window, hide the real message). Every control character is
 * printed as a visible escape; `keepNewlines` keeps the line breaks of a multi-line report of our own.
 */
export function forTerminal(text: string, options: { keepNewlines?: boolean } = {}): string {
  // eslint-disable-next-line no-control-regex -- finding control characters is the point
  return text.replace(/[\u0000-\u001f\u007f-\u009f]/g, (char) => {
    if (char === "\n" && options.keepNewlines) return char;
    if (char === "\n") return "\\n";
    return `\\x${char.charCodeAt(0).toString(16).padStart(2, "0")}`;
  });
}
