/** What `make` throws, or undefined when it returns: for tests of errors thrown at construction. */
export function thrownBy(make: () => unknown): unknown {
  try {
    make();
    return undefined;
  } catch (err) {
    return err;
  }
}
