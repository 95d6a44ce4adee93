// The keyboard shortcuts: Space pauses or resumes, "/" goes to the filter (Escape leaves it) — to the
// sidebar's filter of logs when the focus is in the sidebar —, "l" goes to the filter of logs, End jumps to
// the bottom. Keys typed into a field, or with a modifier, are left alone.

/**
 * @param {HTMLInputElement} filter  the text filter's box
 * @param {{togglePause: Function, focusFilter: Function, focusLogs: Function, jumpToBottom: Function}} actions
 */
export function bindShortcuts(filter, actions) {
  document.addEventListener("keydown", (e) => {
    if (e.defaultPrevented || e.ctrlKey || e.metaKey || e.altKey) return;
    if (isTyping(e.target)) {
      if (e.key === "Escape" && e.target === filter) filter.blur();
      return;
    }
    if (e.key === " ") {
      if (e.target instanceof Element && e.target.closest("button, a, summary, input")) return; // activates it
      e.preventDefault();
      actions.togglePause();
    } else if (e.key === "/") {
      e.preventDefault();
      if (e.target instanceof Element && e.target.closest("#sidebar")) actions.focusLogs();
      else actions.focusFilter();
    } else if (e.key === "l") {
      e.preventDefault();
      actions.focusLogs();
    } else if (e.key === "End") {
      e.preventDefault();
      actions.jumpToBottom();
    }
  });
}

function isTyping(target) {
  // A checkbox or radio button takes no text: "/" from a log's checkbox goes to the filter of logs.
  const text = 'input:not([type="checkbox"]):not([type="radio"]), textarea, select, [contenteditable]:not([contenteditable="false"])';
  return target instanceof Element && target.closest(text);
}
