/** The records screens: one wouter <Switch> over their own addresses. */
export default function RecordsPages() {
  return null;
}
