// The keyboard shortcuts: Space pauses or resumes, "/" goes to the filter (Escape leaves it), End jumps to
// the bottom. Keys typed into a field, or with a modifier, are left alone.

/**
 * @param {HTMLInputElement} filter  the text filter's box
 * @param {{togglePause: Function, focusFilter: Function, jumpToBottom: Function}} actions
 */
export function bindShortcuts(filter, actions) {
  document.addEventListener("keydown", (e) => {
    if (e.defaultPrevented || e.ctrlKey || e.metaKey || e.altKey) return;
    if (isTyping(e.target)) {
      if (e.key === "Escape" && e.target === filter) filter.blur();
      return;
    }
    if (e.key === " ") {
      if (e.target instanceof Element && e.target.closest("button, a, summary")) return; // activates it
      e.preventDefault();
      actions.togglePause();
    } else if (e.key === "/") {
      e.preventDefault();
      actions.focusFilter();
    } else if (e.key === "End") {
      e.preventDefault();
      actions.jumpToBottom();
    }
  });
}

function isTyping(target) {
  return target instanceof Element && target.closest('input, textarea, select, [contenteditable]:not([contenteditable="false"])');
}
