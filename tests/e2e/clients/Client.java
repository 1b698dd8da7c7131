import java.net.URL;
import javax.net.ssl.HttpsURLConnection;

public class Client {
    public static void main(String[] args) throws Exception {
        HttpsURLConnection c = (HttpsURLConnection) new URL(args[0]).openConnection();
        c.setConnectTimeout(5000);
        c.setReadTimeout(5000);
        System.out.println("status " + c.getResponseCode());
    }
}
