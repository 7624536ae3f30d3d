/** How `schedule` calls `fn`: with `args`, or over a chunk of argument arrays or of single items. */
export type TaskMode = typeof CALL | typeof CHUNK_ARGS | typeof CHUNK_ITEMS;
/** `fn(...args)`. */
export const CALL = 0;
/** `args` is an array of argument arrays; the result is the array of results. */
export const CHUNK_ARGS = 1;
/** `args` is an array of single arguments; the result is the array of results. */
export const CHUNK_ITEMS = 2;
