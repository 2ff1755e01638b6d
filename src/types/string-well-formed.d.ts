// Node 20 has String.prototype.isWellFormed; the ES2023 library typings, which match the rest of
// what Node 20 offers, do not declare it yet.
interface String {
  isWellFormed(): boolean;
}
