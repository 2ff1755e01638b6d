import { Route, Switch } from 'wouter';
import { useUser } from '../access/session';
import { Missing } from '../shell/missing';
import { ExportsPage } from './exports-page';
import './exports.css';

/** The exports screens: one wouter <Switch> over their own addresses (nested under /exports). */
export default function ExportsPages() {
  const user = useUser();
  return (
    <Switch>
      <Route path="/"><ExportsPage tab="mine" myId={user.id} /></Route>
      <Route path="/approvals"><ExportsPage tab="approvals" myId={user.id} /></Route>
      <Route><Missing /></Route>
    </Switch>
  );
}
