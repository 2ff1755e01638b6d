/** The admin screens: one wouter <Switch> over their own addresses. */
export default function AdminPages() {
  return null;
}
