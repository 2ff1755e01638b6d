/** The transfer screens: one wouter <Switch> over their own addresses. */
export default function TransferPages() {
  return null;
}
