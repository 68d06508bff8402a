import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;

/*
 * pgjdbc's executeBatch in autocommit, as applications load rows: one
 * INSERT per row, sent together and synced once (an implicit transaction).
 * Compiled and run by test/client_writes.py.
 *
 * Usage: java ClientWrites JDBC_URL EMAIL_PREFIX ROWS
 * Prints "rows N" (the sum of the batch's update counts) and "seconds S".
 */
public class ClientWrites {
    public static void main(String[] args) throws Exception {
        String url = args[0];
        String prefix = args[1];
        int n = Integer.parseInt(args[2]);
        try (Connection conn = DriverManager.getConnection(url)) {
            conn.setAutoCommit(true);
            long start = System.nanoTime();
            int rows = 0;
            try (PreparedStatement ps = conn.prepareStatement(
                    "INSERT INTO marketo.leads (email, first_name) VALUES (?, ?)")) {
                for (int i = 1; i <= n; i++) {
                    ps.setString(1, prefix + i + "@example.com");
                    ps.setString(2, "Jdbc");
                    ps.addBatch();
                }
                for (int count : ps.executeBatch())
                    rows += count;
            }
            System.out.println("rows " + rows);
            System.out.printf("seconds %.3f%n", (System.nanoTime() - start) / 1e9);
        }
    }
}
