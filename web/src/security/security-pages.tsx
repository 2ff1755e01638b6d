/** The security screens: one wouter <Switch> over their own addresses. */
export default function SecurityPages() {
  return null;
}
